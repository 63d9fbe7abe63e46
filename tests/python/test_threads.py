"""Runs release the GIL: while one thread is inside a kiln call, another runs Python. With the
switch interval raised so that the interpreter never takes the GIL from a thread by itself, the
main thread can only run while the worker is inside kiln if kiln let the GIL go. Two threads
running one session at once also get PyTorch's outputs."""

import sys
import threading
import unittest

import kiln
from kiln_test_util import MODELS, read_tensors, relative_error

# Many calls: the main thread has one chance per call to be scheduled while the worker is inside
# kiln, so a loaded machine (ctest -j) does not make a released GIL look held.
RUNS = 100


class GilTest(unittest.TestCase):
    def setUp(self):
        self.interval = sys.getswitchinterval()
        sys.setswitchinterval(1000.0)

    def tearDown(self):
        sys.setswitchinterval(self.interval)

    def progress_while_busy(self, work):
        """How many of RUNS calls of `work` had finished when the main thread first ran again."""
        done = [0]

        def worker():
            for _ in range(RUNS):
                work()
                done[0] += 1

        t = threading.Thread(target=worker)
        t.start()  # waits (GIL released) until the worker runs; then needs the GIL back
        seen = done[0]
        t.join()
        self.assertEqual(done[0], RUNS)
        return seen

    def test_session_run(self):
        feeds = read_tensors(MODELS / "distilbert-tiny" / "ref" / "case1_inputs.json")
        s = kiln.Session(MODELS / "distilbert-tiny" / "model.onnx", threads=1)
        self.assertLess(self.progress_while_busy(lambda: s.run(feeds)), RUNS)

    def test_pipeline_call(self):
        gen = kiln.pipeline("text2text-generation", MODELS / "t5-tiny", threads=1, max_new_tokens=12)
        self.assertLess(self.progress_while_busy(lambda: gen([100, 200, 300, 400, 500, 1])), RUNS)


class TwoThreadsTest(unittest.TestCase):
    def test_one_session_two_threads(self):
        s = kiln.Session(MODELS / "bert-tiny" / "model.onnx", threads=1)
        cases = [(read_tensors(MODELS / "bert-tiny" / "ref" / f"case{n}_inputs.json"),
                  read_tensors(MODELS / "bert-tiny" / "ref" / f"case{n}_outputs.json")["logits"]) for n in (0, 1)]
        errors = []

        def worker(feeds, want):
            for _ in range(10):
                errors.append(relative_error(s.run(feeds)["logits"], want))

        threads = [threading.Thread(target=worker, args=c) for c in cases]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(errors), 20)
        self.assertLessEqual(max(errors), 1e-4)


if __name__ == "__main__":
    unittest.main()
