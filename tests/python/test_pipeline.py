"""kiln.pipeline against transformers: classification scores against the softmax of PyTorch's
logits (ref/case0), generation ids against generate() (ref/generate_*.json: exactly, settings given
at the pipeline or per call), and text in / text out with the real tokenizers
(ref/e2e_expected.jsonl, made by transformers)."""

import json
import unittest

import numpy as np

import kiln
from kiln_test_util import MODELS, Scratch, jsonl, lines, model_with_tokenizer, read_tensors, require, shared_tokenizer


def generate_ref(model, mode):
    doc = json.loads((MODELS / model / "ref" / f"generate_{mode}.json").read_text())
    t, cases = doc["tensors"], []
    i = 0
    while f"input_ids.{i}" in t:
        c = {"input": t[f"input_ids.{i}"]["data"], "output": t[f"output_ids.{i}"]["data"]}
        if f"sequences_scores.{i}" in t:
            c["score"] = t[f"sequences_scores.{i}"]["data"][0]
        cases.append(c)
        i += 1
    return doc["generate_kwargs"], cases


class ClassificationTest(unittest.TestCase):
    def test_scores_are_the_softmax_of_pytorch_logits(self):
        feeds = read_tensors(MODELS / "distilbert-tiny" / "ref" / "case0_inputs.json")
        logits = read_tensors(MODELS / "distilbert-tiny" / "ref" / "case0_outputs.json")["logits"].astype(np.float64)
        id2label = json.loads((MODELS / "distilbert-tiny" / "config.json").read_text())["id2label"]
        rows = [ids[mask == 1].tolist() for ids, mask in zip(feeds["input_ids"], feeds["attention_mask"])]
        prob = np.exp(logits - logits.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        clf = kiln.pipeline("text-classification", MODELS / "distilbert-tiny", threads=1)
        self.assertEqual(clf.task, "text-classification")
        self.assertIsNone(clf.tokenizer)
        self.assertIsNone(clf.generation_config)
        best = clf(rows)  # a list of inputs: one dict each
        self.assertEqual(len(best), len(rows))
        for b, r in enumerate(best):
            self.assertEqual(set(r), {"label", "score"})
            self.assertEqual(r["label"], id2label[str(int(prob[b].argmax()))])
            self.assertAlmostEqual(r["score"], prob[b].max(), delta=1e-4)
        one = clf(rows[0])  # one input (token ids): a list of one dict, as transformers gives for a str
        self.assertEqual(len(one), 1)
        self.assertEqual(one[0]["label"], best[0]["label"])
        every = clf(rows[1], top_k=2)  # per call: the best two, best first
        order = np.argsort(-prob[1])
        self.assertEqual([x["label"] for x in every], [id2label[str(int(k))] for k in order[:2]])
        for x, k in zip(every, order):
            self.assertAlmostEqual(x["score"], prob[1][k], delta=1e-4)

    def test_text_in_labels_out(self):
        tok = shared_tokenizer("bert-base-uncased")
        require(self, tok, "../shared/data/tokenizers/bert-base-uncased")
        texts = lines(MODELS / "distilbert-tiny-vocab" / "ref" / "e2e_inputs.txt")
        want = jsonl(MODELS / "distilbert-tiny-vocab" / "ref" / "e2e_expected.jsonl")
        self.assertEqual(len(texts), 24)
        with Scratch() as d:
            folder = model_with_tokenizer(d, "distilbert-tiny-vocab", tok)
            clf = kiln.pipeline("sentiment-analysis", folder, threads=1, truncation=True, max_length=128, batch_size=4)
            self.assertIsNotNone(clf.tokenizer)
            got = clf(texts)
        for i, (g, w) in enumerate(zip(got, want)):
            self.assertEqual(g["label"], w["label"], f"line {i + 1}")
            self.assertAlmostEqual(g["score"], w["score"], delta=1e-4, msg=f"line {i + 1}")


class GenerationTest(unittest.TestCase):
    def check(self, model, task, mode, per_call):
        kwargs, cases = generate_ref(model, mode)
        kwargs = {k: v for k, v in kwargs.items() if k != "do_sample"}
        self.assertEqual(len(cases), 3)
        if per_call:
            gen = kiln.pipeline(task, MODELS / model, threads=1)
            got = gen([c["input"] for c in cases], **kwargs)
        else:
            gen = kiln.pipeline(task, MODELS / model, threads=1, **kwargs)
            got = gen([c["input"] for c in cases])
        self.assertEqual(len(got), 3)
        for i, (g, c) in enumerate(zip(got, cases)):
            self.assertEqual(g["generated_token_ids"], c["output"], f"{model} {mode} #{i}")
            if "score" in c:
                self.assertAlmostEqual(g["score"], c["score"], delta=1e-4 * max(1.0, abs(c["score"])))

    def test_t5_greedy_and_beam(self):
        self.check("t5-tiny", "text2text-generation", "greedy", per_call=False)
        self.check("t5-tiny", "text2text-generation", "beam", per_call=True)

    def test_bart_and_gpt2_with_settings_per_call(self):
        self.check("bart-tiny", "text2text-generation", "greedy", per_call=True)
        self.check("gpt2-tiny", "text-generation", "greedy", per_call=True)

    def test_per_call_settings_leave_the_pipelines_alone(self):
        _, cases = generate_ref("t5-tiny", "greedy")
        gen = kiln.pipeline("text2text-generation", MODELS / "t5-tiny", threads=1, max_new_tokens=3)
        self.assertEqual(gen.generation_config["max_new_tokens"], 3)
        full = gen(cases[0]["input"], max_new_tokens=12)  # one input: its list of sequences
        self.assertEqual(full[0]["generated_token_ids"], cases[0]["output"])
        short = gen(cases[0]["input"])
        self.assertEqual(short[0]["generated_token_ids"], cases[0]["output"][:4])  # decoder start + 3
        self.assertEqual(gen.generation_config["max_new_tokens"], 3)
        with self.assertRaises(kiln.BadInput):
            gen(cases[0]["input"], num_beams=0)
        with self.assertRaises(kiln.BadInput):
            gen(cases[0]["input"], temprature=0.5)  # misspelt: named in the error

    def test_streamed_tokens_are_the_generated_ones(self):
        _, cases = generate_ref("t5-tiny", "greedy")
        seen = []
        gen = kiln.pipeline("text2text-generation", MODELS / "t5-tiny", threads=1, max_new_tokens=12,
                            on_token=lambda i, s, t: seen.append((i, s, t)))
        gen(cases[2]["input"])
        self.assertEqual([t for _, _, t in seen], cases[2]["output"][1:])
        self.assertTrue(all(i == 0 and s == 0 for i, s, _ in seen))

    def test_text_in_text_out(self):
        tok = shared_tokenizer("t5-small")
        require(self, tok, "../shared/data/tokenizers/t5-small")
        texts = lines(MODELS / "t5-tiny-vocab" / "ref" / "e2e_inputs.txt")
        want = jsonl(MODELS / "t5-tiny-vocab" / "ref" / "e2e_expected.jsonl")
        with Scratch() as d:
            folder = model_with_tokenizer(d, "t5-tiny-vocab", tok)
            gen = kiln.pipeline("text2text-generation", folder, threads=1, batch_size=3)
            got = gen(texts, max_new_tokens=16, num_beams=1, return_tensors=True)
            first = gen(texts[0], max_new_tokens=16)
        self.assertEqual(len(got), len(want))
        for i, (g, w) in enumerate(zip(got, want)):
            self.assertEqual(g["generated_token_ids"], w["output_ids"], f"line {i + 1}")
            self.assertEqual(g["generated_text"], w["generated_text"], f"line {i + 1}")
        self.assertEqual(first, [{"generated_text": want[0]["generated_text"]}])


class PipelineErrorsTest(unittest.TestCase):
    def test_refusals(self):
        with self.assertRaises(kiln.BadInput):
            kiln.pipeline("text-painting", MODELS / "distilbert-tiny")
        with self.assertRaises(kiln.Unsupported):
            kiln.pipeline("text-classification", MODELS / "distilbert-tiny", device="cuda")
        with self.assertRaises(kiln.BadInput) as e:
            kiln.pipeline("text-classification", MODELS / "distilbert-tiny", treads=2)
        self.assertIn("treads", str(e.exception))
        clf = kiln.pipeline("text-classification", MODELS / "distilbert-tiny", threads=1)
        with self.assertRaises(kiln.BadInput):
            clf([101, 7, 102], max_new_tokens=3)  # not a generation pipeline
        with self.assertRaises(kiln.Error):
            clf("no tokenizer in this folder")
        self.assertIn("text2text-generation", kiln.pipeline_tasks())


if __name__ == "__main__":
    unittest.main()
