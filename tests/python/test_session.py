"""kiln.Session on the fixture classifiers against PyTorch's logits (ref/case*_outputs.json) and
ONNX Runtime; what it says about the graph's inputs and outputs against the exporter's record
(onnx_export_info.json); feeds that need converting."""

import json
import unittest

import numpy as np

import kiln
from kiln_test_util import MODELS, read_tensors, relative_error, require, ort_peer, run_ort

TOL = 1e-4  # fp32 graphs vs the PyTorch refs (tests/fixtures/models/README.md)


def case(model, n):
    ref = MODELS / model / "ref"
    return read_tensors(ref / f"case{n}_inputs.json"), read_tensors(ref / f"case{n}_outputs.json")


class SessionTest(unittest.TestCase):
    def test_classifiers_match_pytorch(self):
        for model in ("distilbert-tiny", "bert-tiny"):
            s = kiln.Session(MODELS / model / "model.onnx", threads=1)
            for n in (0, 1):
                feeds, want = case(model, n)
                got = s.run(feeds)
                self.assertEqual(list(got), ["logits"])
                self.assertEqual(got["logits"].dtype, np.float32)
                self.assertLessEqual(relative_error(got["logits"], want["logits"]), TOL, f"{model} case{n}")

    def test_inputs_and_outputs_as_the_exporter_wrote_them(self):
        checked = 0
        for model in ("distilbert-tiny", "bert-tiny", "t5-tiny"):
            for g in json.loads((MODELS / model / "onnx_export_info.json").read_text()):
                if "/" in g["file"]:  # opset17/ copies
                    continue
                s = kiln.Session(MODELS / model / g["file"])
                self.assertEqual([i["name"] for i in s.inputs], g["inputs"], g["file"])
                self.assertEqual([o["name"] for o in s.outputs], g["outputs"], g["file"])
                checked += 1
        self.assertGreaterEqual(checked, 5)
        s = kiln.Session(MODELS / "distilbert-tiny" / "model.onnx")
        ids = s.inputs[0]
        self.assertEqual(ids["type"], "int64")
        self.assertEqual(len(ids["shape"]), 2)
        self.assertTrue(all(d is None or isinstance(d, str) for d in ids["shape"]), ids)  # dynamic batch, sequence
        self.assertEqual(s.outputs[0]["type"], "float32")

    def test_output_names_select(self):
        feeds, want = case("distilbert-tiny", 0)
        s = kiln.Session(MODELS / "distilbert-tiny" / "model.onnx", threads=None)
        got = s.run(feeds, outputs=["logits"])
        self.assertLessEqual(relative_error(got["logits"], want["logits"]), TOL)
        with self.assertRaises(kiln.BadInput):
            s.run(feeds, outputs=["no_such_output"])

    def test_feeds_that_need_converting(self):
        feeds, want = case("bert-tiny", 0)
        s = kiln.Session(MODELS / "bert-tiny" / "model.onnx", threads=1)
        # int32 for int64 inputs, Python lists, a strided view and Fortran order: converted once.
        as_int32 = {k: v.astype(np.int32) for k, v in feeds.items()}
        as_lists = {k: v.tolist() for k, v in feeds.items()}
        wide = {k: np.repeat(v, 2, axis=1)[:, ::2] for k, v in feeds.items()}
        fortran = {k: np.asfortranarray(v) for k, v in feeds.items()}
        for name, f in (("int32", as_int32), ("lists", as_lists), ("strided", wide), ("fortran", fortran)):
            got = s.run(f)
            self.assertLessEqual(relative_error(got["logits"], want["logits"]), TOL, name)
        with self.assertRaises(kiln.BadInput):
            s.run({**feeds, "input_ids": np.array(["a", "b"])})
        with self.assertRaises(kiln.BadInput):
            s.run({**feeds, "input_ids": np.zeros((2, 7), dtype=np.complex64)})
        with self.assertRaises(kiln.BadInput) as e:
            s.run({**feeds, "input_ids": feeds["input_ids"].astype(np.float32)})  # floats for ids: no silent cast
        self.assertIn("input_ids", str(e.exception))

    def test_agrees_with_onnx_runtime(self):
        require(self, ort_peer(), "the ONNX Runtime peer (make peers)")
        for model in ("distilbert-tiny", "bert-tiny"):
            feeds, _ = case(model, 1)
            path = MODELS / model / "model.onnx"
            got = kiln.Session(path).run(feeds)
            ort = run_ort(path, feeds)
            self.assertLessEqual(relative_error(got["logits"], ort["logits"]), 2e-5, model)

    def test_t5_encoder_and_decoder_match_pytorch(self):
        for graph in ("encoder", "decoder", "decoder_with_past"):
            feeds = read_tensors(MODELS / "t5-tiny" / "ref" / f"{graph}_inputs.json")
            want = read_tensors(MODELS / "t5-tiny" / "ref" / f"{graph}_outputs.json")
            got = kiln.Session(MODELS / "t5-tiny" / f"{graph}_model.onnx", threads=1).run(feeds)
            for name, ref in want.items():
                self.assertLessEqual(relative_error(got[name], ref), TOL, f"{graph} {name}")


if __name__ == "__main__":
    unittest.main()
