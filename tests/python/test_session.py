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


class DecoderStepTest(unittest.TestCase):
    """kv_cache_in_place and fixed_inputs from Python: t5-tiny's with-past step against PyTorch."""

    def test_kv_cache_in_place_gives_pytorchs_step_time_major(self):
        ref = MODELS / "t5-tiny" / "ref"
        feeds = read_tensors(ref / "decoder_with_past_inputs.json")
        want = read_tensors(ref / "decoder_with_past_outputs.json")
        s = kiln.Session(MODELS / "t5-tiny" / "decoder_with_past_model.onnx", threads=1, kv_cache_in_place=True)
        info = {i["name"]: i for i in s.inputs}
        self.assertTrue(info["past_key_values.0.decoder.key"]["time_major"])
        self.assertFalse(info["past_key_values.0.encoder.key"]["time_major"])
        self.assertTrue(info["cache_rows"]["optional"])
        fed = {k: (np.ascontiguousarray(v.transpose(2, 0, 1, 3)) if info[k]["time_major"] else v)
               for k, v in feeds.items()}
        got = s.run(fed)
        self.assertLessEqual(relative_error(got["logits"], want["logits"]), TOL)
        outs = {o["name"]: o for o in s.outputs}
        for name in ("present.0.decoder.key", "present.1.decoder.value"):
            self.assertTrue(outs[name]["time_major"], name)
            self.assertLessEqual(relative_error(got[name].transpose(1, 2, 0, 3), want[name]), TOL, name)

    def test_fixed_inputs_leave_the_inputs_and_are_checked(self):
        path = MODELS / "t5-tiny" / "decoder_model.onnx"
        ids = np.array([[0], [0]], dtype=np.int64)
        plain = kiln.Session(path, threads=1)
        feeds = read_tensors(MODELS / "t5-tiny" / "ref" / "decoder_inputs.json")
        fixed = kiln.Session(path, threads=1, fixed_inputs={"input_ids": feeds["input_ids"]})
        self.assertNotIn("input_ids", [i["name"] for i in fixed.inputs])
        rest = {k: v for k, v in feeds.items() if k != "input_ids"}
        want = read_tensors(MODELS / "t5-tiny" / "ref" / "decoder_outputs.json")["logits"]
        self.assertLessEqual(relative_error(fixed.run(rest)["logits"], want), TOL)
        self.assertLessEqual(relative_error(plain.run(feeds)["logits"], want), TOL)
        with self.assertRaisesRegex(kiln.BadInput, "fixed input 'input_idz' is not an input"):
            kiln.Session(path, fixed_inputs={"input_idz": ids})
        with self.assertRaisesRegex(kiln.BadInput, "fixed input 'input_ids' is float32, the graph declares int64"):
            kiln.Session(path, fixed_inputs={"input_ids": ids.astype(np.float32)})
