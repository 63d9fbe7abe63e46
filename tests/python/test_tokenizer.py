"""kiln.Tokenizer against Hugging Face tokenizers' output for the real vocabularies
(../shared/data/tokenizers/*/expected.jsonl) and the pipelines' end-to-end references
(ref/e2e_expected.jsonl); its transformers-style call feeds a Session."""

import unittest

import numpy as np

import kiln
from kiln_test_util import MODELS, jsonl, lines, require, shared_tokenizer

T5_TIES = {225, 227, 228}  # equal-score segmentations (../shared/data/tokenizers/README.md)


class TokenizerTest(unittest.TestCase):
    def folder(self, name):
        d = shared_tokenizer(name)
        require(self, d, "../shared/data/tokenizers/" + name)
        return d

    def test_expected_encodings_and_decodes(self):
        for name in ("bert-base-uncased", "t5-small", "roberta-base", "gpt2"):
            d = self.folder(name)
            for tok in (kiln.Tokenizer.from_folder(d), kiln.Tokenizer.from_file(d / "tokenizer.json")):
                rows = jsonl(d / "expected.jsonl")
                self.assertGreater(len(rows), 100)
                for r in rows:
                    if name == "t5-small" and r["line"] in T5_TIES:
                        continue
                    e = tok.encode(r["text"])
                    self.assertEqual(e.ids, r["input_ids"], f"{name} line {r['line']}")
                    self.assertEqual(e.tokens, r["tokens"], f"{name} line {r['line']}")
                    self.assertEqual(e.attention_mask, r["attention_mask"])
                    if "token_type_ids" in r:
                        self.assertEqual(e.type_ids, r["token_type_ids"])
                    self.assertEqual(len(e), len(r["input_ids"]))
                    self.assertEqual(tok.decode(e.ids), r["decoded"], f"{name} line {r['line']}")
                    self.assertEqual(tok.decode(r["input_ids"], skip_special_tokens=True), r["decoded_skip_special"])

    def test_pipeline_references(self):
        bert = kiln.Tokenizer.from_folder(self.folder("bert-base-uncased"))
        texts = lines(MODELS / "distilbert-tiny-vocab" / "ref" / "e2e_inputs.txt")
        want = jsonl(MODELS / "distilbert-tiny-vocab" / "ref" / "e2e_expected.jsonl")
        batch = bert.encode_batch(texts, truncation=True, max_length=128)
        for i, (e, w) in enumerate(zip(batch, want)):
            self.assertEqual(e.ids, w["input_ids"], f"line {i + 1}")
        t5 = kiln.Tokenizer.from_folder(self.folder("t5-small"))
        for w in jsonl(MODELS / "t5-tiny-vocab" / "ref" / "e2e_expected.jsonl"):
            self.assertEqual(t5.encode(w["text"]).ids, w["input_ids"], f"line {w['line']}")
            self.assertEqual(t5.decode(w["output_ids"], skip_special_tokens=True), w["generated_text"])

    def test_call_gives_session_feeds(self):
        bert = kiln.Tokenizer.from_folder(self.folder("bert-base-uncased"))
        self.assertEqual(bert.vocab_size, 30522)
        self.assertEqual(bert.token_to_id("[CLS]"), 101)
        self.assertEqual(bert.id_to_token(102), "[SEP]")
        self.assertIsNone(bert.token_to_id("no such token here"))
        feeds = bert(["Hello world!", "The quick brown fox jumps over the lazy dog."], padding=True,
                     return_tensors="np")
        self.assertEqual(feeds["input_ids"].dtype, np.int64)
        self.assertEqual(feeds["input_ids"].shape, (2, 12))
        self.assertEqual(feeds["input_ids"][0, :5].tolist(), [101, 7592, 2088, 999, 102])  # expected.jsonl line 1
        self.assertEqual(feeds["attention_mask"][0].tolist(), [1] * 5 + [0] * 7)
        single = bert("Hello world!")
        self.assertEqual(single["input_ids"], [101, 7592, 2088, 999, 102])
        with self.assertRaises(kiln.BadInput):
            bert(["a", "a b c"], return_tensors="np")  # rows of different lengths
        with self.assertRaises(kiln.BadInput):
            bert("a", return_tensors="pt")
        # The distilbert-tiny-vocab model on the tokenizer's padded batch (it takes no token types):
        # the labels of ref/e2e_expected.jsonl.
        texts = lines(MODELS / "distilbert-tiny-vocab" / "ref" / "e2e_inputs.txt")[:4]
        want = jsonl(MODELS / "distilbert-tiny-vocab" / "ref" / "e2e_expected.jsonl")[:4]
        feeds = bert(texts, padding=True, truncation=True, max_length=128, return_tensors="np")
        s = kiln.Session(MODELS / "distilbert-tiny-vocab" / "model.onnx", threads=1)
        logits = s.run({k: feeds[k] for k in ("input_ids", "attention_mask")})["logits"]
        for row, w in zip(logits, want):
            np.testing.assert_allclose(row, w["logits"], atol=1e-4 * max(1.0, max(abs(x) for x in w["logits"])))

    def test_missing_files(self):
        with self.assertRaises(kiln.IoError):
            kiln.Tokenizer.from_folder(MODELS / "distilbert-tiny")  # no tokenizer files there


if __name__ == "__main__":
    unittest.main()
