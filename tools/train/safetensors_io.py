"""Write a safetensors file from a dict of torch tensors (no `safetensors` package on Debian 12).

Format: u64 little-endian header length, JSON header {name: {dtype, shape, data_offsets}} plus
__metadata__, then the raw little-endian bytes, tensors in header order."""
import json
import struct

import torch

_DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.float16: "F16"}


def save_safetensors(tensors, path, metadata=None):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = metadata or {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)  # keep the data 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
