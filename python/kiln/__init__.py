"""kiln: run, quantize and export ONNX transformer models from Python.

The C++ library (libkiln, include/kiln) does the work; this package is its Python face
(docs/python.md):

    import kiln
    clf = kiln.pipeline("text-classification", "distilbert-sst2", threads=2)
    clf("I loved it")                                   # [{'label': 'POSITIVE', 'score': 0.99}]

    s = kiln.Session("distilbert-sst2/model.onnx")
    tok = kiln.Tokenizer.from_folder("distilbert-sst2")
    logits = s.run(tok(["I loved it"], padding=True, return_tensors="np"))["logits"]

Errors are kiln.Error and its kinds (BadModel, BadInput, Unsupported, IoError, InternalError),
with kiln's one-line messages.
"""

from ._kiln import (  # noqa: F401
    BadInput,
    BadModel,
    Encoding,
    Error,
    InternalError,
    IoError,
    Pipeline,
    Session,
    Tokenizer,
    Unsupported,
    export,
    export_architectures,
    export_tasks,
    pipeline,
    pipeline_tasks,
    quantize,
    quantize_options,
    quantize_presets,
)

__all__ = [
    "BadInput",
    "BadModel",
    "Encoding",
    "Error",
    "InternalError",
    "IoError",
    "Pipeline",
    "Session",
    "Tokenizer",
    "Unsupported",
    "export",
    "export_architectures",
    "export_tasks",
    "pipeline",
    "pipeline_tasks",
    "quantize",
    "quantize_options",
    "quantize_presets",
]
