"""What tests/python share: where the fixtures are, reading their reference tensors, the fixtures'
tolerance rule, ONNX Runtime through build/peers/ort-run.js, and needing things outside the
repository (a failure under CI, a loud skip elsewhere), as tests/test_util.h does for C++."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
MODELS = FIXTURES / "models"
SHARED = ROOT.parent / "shared"
BUILD = Path(os.environ.get("KILN_BINARY_DIR", ROOT / "build"))


def in_ci():
    v = os.environ.get("CI", "")
    return v not in ("", "false", "0")


def require(test, ok, what):
    """Stops `test` when `what` is missing: a failure under CI, a skip elsewhere."""
    if ok:
        return
    if in_ci():
        test.fail("CI must have: " + what)
    raise unittest.SkipTest("SKIPPED (not under CI): missing " + what)


def read_tensors(path):
    """A fixture's ref/*.json: {name: {dtype, dims, data}} -> {name: ndarray}."""
    with open(path) as f:
        doc = json.load(f)
    return {k: np.array(v["data"], dtype=v["dtype"]).reshape(v["dims"]) for k, v in doc.items()}


def write_tensors(path, tensors):
    doc = {k: {"dtype": str(v.dtype), "dims": list(v.shape), "data": v.ravel().tolist()} for k, v in tensors.items()}
    with open(path, "w") as f:
        json.dump(doc, f)


def relative_error(got, ref):
    """max|got - ref| / max(max|ref|, 1e-6) (the fixtures' README); inf when the shapes differ."""
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        return float("inf")
    return float(np.max(np.abs(got - ref), initial=0.0) / max(np.max(np.abs(ref), initial=0.0), 1e-6))


def ort_peer():
    js = BUILD / "peers" / "ort-run.js"
    ok = js.exists() and (BUILD / "peers" / "node_modules" / "onnxruntime-node").exists()
    return str(js) if ok else None


def run_ort(model, feeds):
    """ONNX Runtime's outputs for `feeds` (build/peers/ort-run.js, make peers)."""
    with tempfile.TemporaryDirectory(prefix="kiln-py-ort-") as d:
        inp, out = os.path.join(d, "in.json"), os.path.join(d, "out.json")
        write_tensors(inp, feeds)
        subprocess.run(["node", ort_peer(), str(model), inp, out], check=True, capture_output=True)
        return read_tensors(out)


def shared_tokenizer(name):
    """../shared/data/tokenizers/NAME (not committed), or None."""
    p = SHARED / "data" / "tokenizers" / name
    return p if (p / "tokenizer.json").exists() else None


def lines(path):
    """A file's lines split on "\\n" only (the final "\\n" ends the last line)."""
    text = Path(path).read_text(encoding="utf-8")
    return text[:-1].split("\n") if text.endswith("\n") else text.split("\n")


def jsonl(path):
    # split on "\n" only: the texts hold U+2028, U+0085 and "\r", which str.splitlines() splits on
    return [json.loads(x) for x in Path(path).read_text(encoding="utf-8").split("\n") if x.strip()]


class Scratch:
    """A temporary folder, removed afterwards."""

    def __enter__(self):
        self.path = Path(tempfile.mkdtemp(prefix="kiln-py-"))
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def model_with_tokenizer(scratch, model, tokenizer_dir):
    """A model folder in `scratch`: links to a fixture folder's files and a tokenizer.txt naming
    `tokenizer_dir` (the fixtures' own pointer leads outside the repository)."""
    d = Path(scratch) / model
    d.mkdir()
    for f in (MODELS / model).iterdir():
        if f.is_file() and f.name != "tokenizer.txt":
            (d / f.name).symlink_to(f)
    (d / "tokenizer.txt").write_text("use " + str(tokenizer_dir) + "\n")
    return d
