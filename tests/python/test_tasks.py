"""The pipeline results of the encoder tasks without their own PyTorch references, on graphs
kiln.export writes from the distilbert fixture checkpoint, against ONNX Runtime running the same
graph: feature-extraction's arrays (token vectors, mean pooling) and token-classification's
labels and scores (softmax of ONNX Runtime's logits)."""

import json
import unittest

import numpy as np

import kiln
from kiln_test_util import MODELS, Scratch, ort_peer, relative_error, require, run_ort, shared_tokenizer

IDS = [[101, 317, 842, 102], [101, 205, 598, 102, 731, 460, 102]]


def ort_on(graph, ids, output):
    feeds = {"input_ids": np.array([ids], dtype=np.int64), "attention_mask": np.ones((1, len(ids)), dtype=np.int64)}
    return run_ort(graph, feeds)[output][0].astype(np.float64)


class EncoderTasksTest(unittest.TestCase):
    def setUp(self):
        require(self, ort_peer(), "the ONNX Runtime peer (make peers)")

    def test_feature_extraction(self):
        with Scratch() as d:
            kiln.export(MODELS / "distilbert-tiny", d / "fe", task="feature-extraction")
            tokens = kiln.pipeline("feature-extraction", d / "fe", threads=1)
            mean = kiln.pipeline("feature-extraction", d / "fe", threads=1, pooling="mean")
            got = tokens(IDS)
            pooled = [mean(ids) for ids in IDS]
            for ids, g, p in zip(IDS, got, pooled):
                ref = ort_on(d / "fe" / "model.onnx", ids, "last_hidden_state")
                self.assertEqual(g.dtype, np.float32)
                self.assertEqual(g.shape, ref.shape)
                self.assertLessEqual(relative_error(g, ref), 1e-4)
                self.assertEqual(p.shape, (ref.shape[1],))
                self.assertLessEqual(relative_error(p, ref.mean(axis=0)), 1e-4)
            self.assertFalse(got[0].flags.owndata, "the vectors' own memory, not a copy")

    def test_token_classification(self):
        with Scratch() as d:
            kiln.export(MODELS / "distilbert-tiny", d / "tc", task="token-classification")
            id2label = json.loads((d / "tc" / "config.json").read_text())["id2label"]
            tag = kiln.pipeline("ner", d / "tc", threads=1)
            got = tag(IDS)
            for ids, entities in zip(IDS, got):
                logits = ort_on(d / "tc" / "model.onnx", ids, "logits")
                prob = np.exp(logits - logits.max(axis=1, keepdims=True))
                prob /= prob.sum(axis=1, keepdims=True)
                self.assertEqual(len(entities), len(ids))  # no aggregation, no tokenizer: every token
                for e in entities:
                    k = e["index"]
                    self.assertEqual(set(e), {"entity", "score", "index", "word", "start", "end"})
                    self.assertEqual(e["entity"], id2label[str(int(prob[k].argmax()))])
                    self.assertAlmostEqual(e["score"], prob[k].max(), delta=1e-4)
            single = tag(IDS[0])
            self.assertEqual(single, got[0])


class TextTasksTest(unittest.TestCase):
    """question-answering and fill-mask on random-weight graphs with bert-base-uncased's vocabulary:
    the result shapes transformers gives and what must hold whatever the weights (an answer is its
    span of the context; a filled sequence is the text with the candidate in the mask's place)."""

    def folder(self, d, task):
        tok = shared_tokenizer("bert-base-uncased")
        require(self, tok, "../shared/data/tokenizers/bert-base-uncased")
        config = json.loads((MODELS / "distilbert-tiny" / "config.json").read_text())
        config["vocab_size"] = 30522
        (d / "config.json").write_text(json.dumps(config))
        out = d / task
        kiln.export(d / "config.json", out, task=task, random_weights=True)
        (out / "tokenizer.txt").write_text("use " + str(tok) + "\n")
        return out

    def test_question_answering(self):
        with Scratch() as d:
            qa = kiln.pipeline("question-answering", self.folder(d, "question-answering"), threads=1)
            context = "The tower is in Paris, which is the capital of France."
            one = qa(question="Where is the tower?", context=context)
            self.assertEqual(set(one), {"score", "start", "end", "answer"})
            self.assertEqual(context[one["start"]:one["end"]], one["answer"])
            self.assertTrue(0 < one["score"] <= 1)
            both = qa([{"question": "Where is the tower?", "context": context},
                       {"question": "What is Paris?", "context": context}])
            self.assertEqual(len(both), 2)
            self.assertEqual(both[0]["answer"], one["answer"])
            self.assertAlmostEqual(both[0]["score"], one["score"], delta=1e-6)
            with self.assertRaises(kiln.BadInput):
                qa({"question": "no context"})

    def test_fill_mask(self):
        with Scratch() as d:
            fill = kiln.pipeline("fill-mask", self.folder(d, "fill-mask"), threads=1, top_k=3)
            tok = fill.tokenizer
            text = "paris is the [MASK] of france."
            cands = fill(text)
            self.assertEqual(len(cands), 3)
            scores = [c["score"] for c in cands]
            self.assertEqual(scores, sorted(scores, reverse=True))
            self.assertLessEqual(sum(scores), 1 + 1e-6)
            for c in cands:
                self.assertEqual(set(c), {"score", "token", "token_str", "sequence"})
                self.assertEqual(c["token_str"], tok.decode([c["token"]]))
                ids = tok.encode(text).ids
                ids[ids.index(tok.mask_token_id)] = c["token"]
                self.assertEqual(c["sequence"], tok.decode(ids, skip_special_tokens=True))
            two = fill("[MASK] is the [MASK] of france.")
            self.assertEqual([len(x) for x in two], [3, 3])  # per mask, its candidates


if __name__ == "__main__":
    unittest.main()
