#!/usr/bin/env python3
"""Writes the small synthetic seeds of tests/fuzz/corpus/ (standard library only).

Run from the repository root: python3 tests/fuzz/make_seeds.py. The seeds copied from
tests/data/ and models/ are listed in tests/fuzz/README.md; these are the ones made here, each a
small well-formed file of its kind so that the fuzzers start from every branch of the format.
"""
import gzip
import io
import json
import pickle
import struct
import sys
import types
import zipfile
import zlib
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


# --- pickles as torch.save writes them, without torch: stand-ins named like torch's globals ---
torch_module = types.ModuleType("torch")
utils_module = types.ModuleType("torch._utils")
collections_module = sys.modules["collections"]


def _rebuild_tensor_v2(*args):
    raise AssertionError("only pickled, never called")


_rebuild_tensor_v2.__module__ = "torch._utils"
utils_module._rebuild_tensor_v2 = _rebuild_tensor_v2
for storage in ("FloatStorage", "HalfStorage", "LongStorage", "DoubleStorage"):
    cls = type(storage, (), {"__module__": "torch"})
    setattr(torch_module, storage, cls)
torch_module._utils = utils_module
sys.modules["torch"] = torch_module
sys.modules["torch._utils"] = utils_module


class Tensor:
    """Pickles as torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, {})."""

    def __init__(self, key, storage, size):
        self.key, self.storage, self.size = key, storage, size

    def __reduce__(self):
        stride, s = [], 1
        for d in reversed(self.size):
            stride.insert(0, s)
            s *= d
        return (_rebuild_tensor_v2, (self, 0, tuple(self.size), tuple(stride), False, collections_module.OrderedDict()))


def tensor_pickle(root, protocol=2):
    """(data.pkl, {key: numel}) of `root`, whose Tensor objects become persistent storages."""
    storages = {}
    out = io.BytesIO()

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Tensor) and obj.key not in storages:
                numel = 1
                for d in obj.size:
                    numel *= d
                storages[obj.key] = (obj.storage, numel)
                return None  # pickled by __reduce__, whose first argument is the storage below
            if isinstance(obj, Tensor):
                return ("storage", getattr(torch_module, obj.storage), obj.key, "cpu", storages[obj.key][1])
            return None

    Pickler(out, protocol=protocol).dump(root)
    return out.getvalue(), storages


ELEMENT = {"FloatStorage": 4, "HalfStorage": 2, "LongStorage": 8, "DoubleStorage": 8}


def checkpoint(root, compress=zipfile.ZIP_STORED):
    data, storages = tensor_pickle(root)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compress) as z:
        z.writestr("archive/data.pkl", data)
        for key, (storage, numel) in storages.items():
            z.writestr("archive/data/" + key, bytes(range(256)) * (numel * ELEMENT[storage] // 256) +
                       bytes(numel * ELEMENT[storage] % 256))
        z.writestr("archive/version", "3\n")
    return data, buffer.getvalue()


state = collections_module.OrderedDict([
    ("module.conv.weight", Tensor("0", "FloatStorage", [2, 1, 3, 3])),
    ("module.conv.bias", Tensor("1", "FloatStorage", [2])),
    ("module.sigmas", Tensor("2", "DoubleStorage", [4])),
    ("module.step", Tensor("3", "LongStorage", [1])),
])
reference_like = {
    "model": state,
    "ema": {"decay": 0.999, "num_updates": 7, "shadow_params": [Tensor("4", "FloatStorage", [2, 1, 3, 3]),
                                                                Tensor("5", "HalfStorage", [2])]},
    "optimizer": {"state": {0: {"step": 7, "exp_avg": Tensor("6", "FloatStorage", [2])}},
                  "param_groups": [{"lr": 2e-4, "betas": (0.9, 0.999), "eps": 1e-8, "params": [0, 1]}]},
    "step": 7,
}
for name, root in (("reference-like", reference_like), ("state-dict", state)):
    data, archive = checkpoint(root)
    write("pickle", name + ".pkl", data)
    write("zip", name + ".pth", archive)
for protocol in (0, 4):
    write("pickle", "state-dict-protocol%d.pkl" % protocol, tensor_pickle(state, protocol)[0])
write("zip", "state-dict-deflated.pth", checkpoint(state, zipfile.ZIP_DEFLATED)[1])


# --- safetensors: a small model file with an SDE Studio header ---
def safetensors(tensors, metadata):
    header, data = {"__metadata__": metadata}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


toy_config = json.loads((Path(__file__).resolve().parents[2] / "models/bundled/toy-2d/config.json").read_text())
write("safetensors", "small-model.safetensors", safetensors(
    [("Dense_in.weight", "F32", [4, 2], struct.pack("<8f", *range(8))),
     ("Dense_in.bias", "F16", [4], struct.pack("<4e", 0.5, -1, 2, 0)),
     ("step", "I64", [], struct.pack("<q", 20000)),
     ("empty", "F32", [0, 3], b"")],
    {"format": "sdestudio-model", "format_version": "1", "step": "20000", "weights": "ema",
     "config": json.dumps(toy_config, separators=(",", ":"))}))


# --- IDX: images and labels, plain and gzip ---
def idx(dims, shape, data):
    return struct.pack(">I", 0x0800 | dims) + b"".join(struct.pack(">I", d) for d in shape) + data


images = idx(3, [2, 3, 3], bytes(range(18)))
labels = idx(1, [3], bytes([0, 9, 4]))
write("idx", "two-3x3-images-idx3-ubyte", images)
write("idx", "two-3x3-images-idx3-ubyte.gz", gzip.compress(images, mtime=0))
write("idx", "three-labels-idx1-ubyte", labels)
write("idx", "three-labels-idx1-ubyte.gz", gzip.compress(labels, mtime=0))


# --- PNG: a 1x1 gray image with tEXt, iTXt and zTXt chunks around its data ---
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)) +
       chunk(b"tEXt", b"parameters\0a sample") +
       chunk(b"iTXt", b"sdestudio\0\0\0en\0\0" + json.dumps({"operation": "sample", "sampling": {}}).encode()) +
       chunk(b"zTXt", b"comment\0\0" + zlib.compress(b"skipped")) +
       chunk(b"IDAT", zlib.compress(b"\0\x80")) + chunk(b"IEND", b""))
write("png_text", "text-chunks.png", png)
