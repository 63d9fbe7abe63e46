"""kiln.quantize and kiln.export, then a run of what they wrote: the int8 graph against ONNX
Runtime's outputs for its own quantizer's file (ref/ort_quantized_case*_outputs.json), the
exported graph against PyTorch's logits (ref/case*_outputs.json)."""

import json
import unittest

import numpy as np

import kiln
from kiln_test_util import MODELS, Scratch, read_tensors, relative_error, require, ort_peer, run_ort


class QuantizeTest(unittest.TestCase):
    def test_quantize_then_run(self):
        for model in ("distilbert-tiny", "bert-tiny"):
            # ONNX Runtime's quantizer on the same graph (model_quantized_info.json: its op histogram)
            ort_ops = json.loads((MODELS / model / "model_quantized_info.json").read_text())["ops"]
            with Scratch() as d:
                out = d / "model_int8.onnx"
                lines = []
                # ONNX Runtime's quantize_dynamic settings of the fixture (README): avx512_vnni, tables too
                report = kiln.quantize(MODELS / model / "model.onnx", out, preset="avx512_vnni",
                                       quantize_embeddings=True, progress=lines.append)
                self.assertTrue(out.exists())
                (graph,) = [f for f in report["files"] if f["role"] == "graph"]
                q = graph["quantized"]
                self.assertEqual(q.get("MatMul", 0) + q.get("Gemm", 0), ort_ops["MatMulInteger"], model)
                self.assertEqual(q.get("Gather", 0), ort_ops["DequantizeLinear"], model)
                self.assertEqual(graph["left_float"].get("MatMul", 0), ort_ops.get("MatMul", 0), model)
                self.assertLess(report["total_bytes_after"], report["total_bytes_before"])
                self.assertTrue(lines, "progress lines")
                s = kiln.Session(out, threads=1)
                for n in (0, 1):
                    feeds = read_tensors(MODELS / model / "ref" / f"case{n}_inputs.json")
                    want = read_tensors(MODELS / model / "ref" / f"ort_quantized_case{n}_outputs.json")["logits"]
                    got = s.run(feeds)["logits"]
                    self.assertLessEqual(relative_error(got, want), 1e-4, f"{model} case{n}")
                    np.testing.assert_array_equal(got.argmax(axis=1), want.argmax(axis=1))
                    if n == 1 and ort_peer():
                        ort = run_ort(out, feeds)["logits"]  # ONNX Runtime on kiln's file
                        self.assertLessEqual(relative_error(got, ort), 1e-4, model)
        require(self, ort_peer(), "the ONNX Runtime peer (make peers)")

    def test_settings_by_name_and_refusals(self):
        self.assertIn("avx512_vnni", kiln.quantize_presets())
        self.assertIn("per_channel", kiln.quantize_options())
        with Scratch() as d:
            report = kiln.quantize(MODELS / "distilbert-tiny" / "model.onnx", d / "pc.onnx", per_channel=True,
                                   ops=["MatMul"], reduce_range=False)
            self.assertTrue(report["options"]["per_channel"])
            self.assertEqual(report["options"]["op_types"], ["MatMul"])
            with self.assertRaises(kiln.BadInput):
                kiln.quantize(MODELS / "distilbert-tiny" / "model.onnx", d / "x.onnx", preset="avx9000")
            with self.assertRaises(kiln.BadInput):
                kiln.quantize(MODELS / "distilbert-tiny" / "model.onnx", d / "x.onnx", per_chanel=True)
            self.assertFalse((d / "x.onnx").exists())


class ExportTest(unittest.TestCase):
    def test_export_then_run(self):
        for model in ("distilbert-tiny", "bert-tiny"):
            with Scratch() as d:
                out = d / "onnx"
                r = kiln.export(MODELS / model, out, task="text-classification")
                self.assertIn("model.onnx", r["files"])
                self.assertEqual(r["task"], "text-classification")
                self.assertEqual(r["model_type"], json.loads((MODELS / model / "config.json").read_text())["model_type"])
                s = kiln.Session(out / "model.onnx", threads=1)
                for n in (0, 1):
                    feeds = read_tensors(MODELS / model / "ref" / f"case{n}_inputs.json")
                    want = read_tensors(MODELS / model / "ref" / f"case{n}_outputs.json")["logits"]
                    feeds = {k: v for k, v in feeds.items() if k in {i["name"] for i in s.inputs}}
                    self.assertLessEqual(relative_error(s.run(feeds)["logits"], want), 1e-4, f"{model} case{n}")
                # and the folder is a pipeline's
                clf = kiln.pipeline("", out, threads=1)
                self.assertEqual(clf.task, "text-classification")

    def test_export_t5_then_generate(self):
        doc = json.loads((MODELS / "t5-tiny" / "ref" / "generate_greedy.json").read_text())
        t = doc["tensors"]
        with Scratch() as d:
            kiln.export(MODELS / "t5-tiny", d / "t5")
            gen = kiln.pipeline("text2text-generation", d / "t5", threads=1, max_new_tokens=12)
            got = gen([t[f"input_ids.{i}"]["data"] for i in range(3)])
        for i, g in enumerate(got):
            self.assertEqual(g["generated_token_ids"], t[f"output_ids.{i}"]["data"], f"#{i}")

    def test_refusals(self):
        self.assertIn("bert", kiln.export_architectures())
        self.assertIn("text-classification", kiln.export_tasks("bert"))
        with Scratch() as d:
            (d / "full").mkdir()
            (d / "full" / "something").write_text("x")
            with self.assertRaises(kiln.BadInput):
                kiln.export(MODELS / "bert-tiny", d / "full")
            with self.assertRaises(kiln.Error):
                kiln.export(d / "no-such-checkpoint", d / "out")
            self.assertFalse((d / "out").exists(), "nothing is left behind")


if __name__ == "__main__":
    unittest.main()
