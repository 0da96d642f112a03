"""Read a TorchLean model file WITHOUT the safetensors package (plain safetensors layout) and
compare every tensor bit for bit with an expectation file written by test_model_file.c.

usage: check_model_file.py MODEL EXPECTED
EXPECTED lines: NAME DIM,DIM,...|- HEXBITS HEXBITS ...   (float32 bit patterns)
"""
import json
import struct
import sys

import numpy as np


def main():
    model, expected = sys.argv[1], sys.argv[2]
    raw = open(model, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    meta = header.pop("__metadata__")
    assert meta["format"] == "torchlean.model.v1", meta["format"]
    graph = json.loads(meta["graph"])
    assert graph["format"] == "torchlean.ir.v1"
    assert len(meta["graph_sha256"]) == 64
    want = {}
    for line in open(expected):
        parts = line.split()
        shape = [] if parts[1] == "-" else [int(d) for d in parts[1].split(",")]
        want[parts[0]] = (shape, [int(h, 16) for h in parts[2:]])
    assert set(want) == set(header), (sorted(want), sorted(header))
    for name, entry in header.items():
        assert entry["dtype"] == "F32"
        b, e = entry["data_offsets"]
        arr = np.frombuffer(data[b:e], dtype="<f4").reshape(entry["shape"])
        shape, bits = want[name]
        assert list(arr.shape) == shape, (name, arr.shape, shape)
        got = arr.reshape(-1).view("<u4").tolist()
        assert got == bits, (name, got, bits)
    print("ok", len(header), "tensors")


if __name__ == "__main__":
    main()
