"""kiln's errors as Python exceptions: one hierarchy mirroring include/kiln/error.h (kiln.Error and
its kinds, each also the built-in exception a Python caller catches for it), kiln's one-line
message unchanged (compared with what the kiln command prints for the same failure) and its exit
code."""

import subprocess
import unittest

import numpy as np

import kiln
from kiln_test_util import BUILD, MODELS, Scratch, read_tensors, require


class ErrorsTest(unittest.TestCase):
    def test_hierarchy(self):
        self.assertTrue(issubclass(kiln.Error, RuntimeError))
        for cls in (kiln.BadModel, kiln.BadInput, kiln.Unsupported, kiln.IoError, kiln.InternalError):
            self.assertTrue(issubclass(cls, kiln.Error), cls)
        self.assertTrue(issubclass(kiln.BadInput, ValueError))
        self.assertTrue(issubclass(kiln.IoError, OSError))
        self.assertTrue(issubclass(kiln.Unsupported, NotImplementedError))

    def test_each_kind(self):
        with Scratch() as d:
            with self.assertRaises(kiln.IoError) as e:
                kiln.Session(d / "missing.onnx")
            self.assertEqual(e.exception.exit_code, 5)
            self.assertIn("missing.onnx", str(e.exception))
            (d / "garbage.onnx").write_bytes(b"\x08\x07 this is not a protobuf \xff\xff\xff")
            with self.assertRaises(kiln.BadModel) as e:
                kiln.Session(d / "garbage.onnx")
            self.assertEqual(e.exception.exit_code, 2)
        with self.assertRaises(kiln.Unsupported) as e:
            kiln.Session(MODELS / "distilbert-tiny" / "model.onnx", device="cuda")
        self.assertEqual(e.exception.exit_code, 4)
        s = kiln.Session(MODELS / "distilbert-tiny" / "model.onnx", threads=1)
        feeds = read_tensors(MODELS / "distilbert-tiny" / "ref" / "case0_inputs.json")
        for bad in ({"input_ids": feeds["input_ids"]},  # a feed missing
                    {**feeds, "token_type_ids": feeds["input_ids"]},  # one the graph does not take
                    {**feeds, "input_ids": np.zeros((2, 3, 4), dtype=np.int64)}):  # wrong rank
            with self.assertRaises(kiln.BadInput) as e:
                s.run(bad)
            self.assertEqual(e.exception.exit_code, 3)
            self.assertNotIn("\n", str(e.exception).strip(), "one line")
        with self.assertRaises(kiln.BadInput):
            s.run([feeds["input_ids"]])  # not a dict

    def test_message_is_the_kiln_commands(self):
        cli = BUILD / "kiln"
        require(self, cli.exists(), "the kiln command (make build)")
        with Scratch() as d:
            (d / "garbage.onnx").write_bytes(b"\x08\x07 this is not a protobuf \xff\xff\xff")
            with self.assertRaises(kiln.BadModel) as e:
                kiln.Session(d / "garbage.onnx")
            p = subprocess.run([str(cli), "inspect", str(d / "garbage.onnx")], capture_output=True, text=True)
        self.assertEqual(p.returncode, e.exception.exit_code)
        self.assertIn(str(e.exception), p.stderr)


if __name__ == "__main__":
    unittest.main()
