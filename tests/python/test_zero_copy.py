"""No copies between numpy and kiln: feeds that are C-contiguous arrays of the input's type are read
in place, outputs are numpy arrays over kiln's buffers that keep them alive (past the session), and
what must be converted is converted once."""

import gc
import sys
import unittest

import numpy as np

import kiln
from kiln import _kiln
from kiln_test_util import MODELS, read_tensors, relative_error


class ZeroCopyTest(unittest.TestCase):
    def test_contiguous_arrays_are_wrapped_in_place(self):
        for dtype in (np.int64, np.int32, np.float32, np.float16, np.float64, np.uint8, np.bool_):
            a = np.ones((3, 5), dtype=dtype)
            address, kind = _kiln._tensor_address(a)
            self.assertEqual(address, a.ctypes.data, np.dtype(dtype).name)
            self.assertEqual(kind, np.dtype(dtype).name)

    def test_others_are_converted_once(self):
        a = np.arange(20, dtype=np.int64).reshape(4, 5)
        strided = a[:, ::2]
        address, _ = _kiln._tensor_address(strided)
        self.assertNotEqual(address, strided.ctypes.data)
        back = _kiln._round_trip(strided)
        np.testing.assert_array_equal(back, strided)
        self.assertTrue(back.flags.c_contiguous)

    def test_round_trip_shares_memory_and_keeps_it_alive(self):
        a = np.arange(12, dtype=np.float32).reshape(3, 4)
        before = sys.getrefcount(a)
        back = _kiln._round_trip(a)
        self.assertTrue(np.shares_memory(a, back))
        self.assertFalse(back.flags.writeable, "memory kiln does not own comes back read-only")
        self.assertGreater(sys.getrefcount(a), before, "the kiln tensor holds the array")
        del a
        gc.collect()
        np.testing.assert_array_equal(back, np.arange(12, dtype=np.float32).reshape(3, 4))
        a2 = np.zeros(4, dtype=np.int64)
        n = sys.getrefcount(a2)
        del back
        _kiln._round_trip(a2)
        gc.collect()
        self.assertEqual(sys.getrefcount(a2), n, "the reference is dropped with the last tensor")

    def test_feeds_are_not_copied_nor_kept_nor_changed(self):
        feeds = read_tensors(MODELS / "distilbert-tiny" / "ref" / "case1_inputs.json")
        originals = {k: v.copy() for k, v in feeds.items()}
        counts = {k: sys.getrefcount(v) for k, v in feeds.items()}
        s = kiln.Session(MODELS / "distilbert-tiny" / "model.onnx", threads=1)
        s.run(feeds)
        gc.collect()
        for k, v in feeds.items():
            self.assertEqual(sys.getrefcount(v), counts[k], f"{k}: released after the run")
            np.testing.assert_array_equal(v, originals[k], k)

    def test_outputs_are_kiln_buffers_that_outlive_the_session(self):
        feeds = read_tensors(MODELS / "distilbert-tiny" / "ref" / "case1_inputs.json")
        want = read_tensors(MODELS / "distilbert-tiny" / "ref" / "case1_outputs.json")["logits"]
        s = kiln.Session(MODELS / "distilbert-tiny" / "model.onnx", threads=1)
        logits = s.run(feeds)["logits"]
        self.assertFalse(logits.flags.owndata, "numpy does not own the bytes: kiln's buffer does")
        self.assertEqual(type(logits.base).__name__, "PyCapsule")
        self.assertTrue(logits.flags.writeable, "a buffer kiln made for the run is the caller's")
        address = logits.ctypes.data
        del s
        gc.collect()
        for _ in range(3):  # other runs reuse freed buffers: this one must not be among them
            kiln.Session(MODELS / "bert-tiny" / "model.onnx", threads=1).run(
                read_tensors(MODELS / "bert-tiny" / "ref" / "case1_inputs.json"))
        self.assertEqual(logits.ctypes.data, address)
        self.assertLessEqual(relative_error(logits, want), 1e-4)


if __name__ == "__main__":
    unittest.main()
