"""The pipeline results of the encoder tasks without their own PyTorch references, on graphs
kiln.export writes from the distilbert fixture checkpoint, against ONNX Runtime running the same
graph: feature-extraction's arrays (token vectors, mean pooling) and token-classification's
labels and scores (softmax of ONNX Runtime's logits)."""

import json
import unittest

import numpy as np

import kiln
from kiln_test_util import MODELS, Scratch, ort_peer, relative_error, require, run_ort

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


if __name__ == "__main__":
    unittest.main()
