#!/usr/bin/python3
"""PyTorch peer of `torchlean train --epochs 1`: wall time of one training epoch on the
Fashion-MNIST train split (60000 images), batch 64, shuffled, Adam lr 1e-3, for the MLP
784-128-10 and the small CNN, with the same in-model normalisation (x - mean) / std.
The data are read from the gzip IDX files with gzip + numpy (no torchvision).
Usage: peer_torch_epoch.py THREADS [DATA_DIR] [MODELS...]
Output lines: "<model> torch <seconds per epoch>"."""
import gzip
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
data_dir = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/datasets/fashion-mnist"
models = sys.argv[3:] or ["mlp", "cnn"]
torch.set_num_threads(threads)
torch.manual_seed(0)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


x = read_idx(f"{data_dir}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0
y = read_idx(f"{data_dir}/train-labels-idx1-ubyte.gz").astype(np.int64)
mean, std = float(x.mean()), float(x.std())
X = torch.from_numpy(x).unsqueeze(1)  # (N, 1, 28, 28)
Y = torch.from_numpy(y)


class Normalize(nn.Module):
    def forward(self, v):
        return (v - mean) * (1.0 / std)


def mlp():
    return nn.Sequential(Normalize(), nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn():
    return nn.Sequential(Normalize(), nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 7 * 7, 10))


def epoch(model, batch=64):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    order = torch.randperm(X.shape[0])
    for i in range(0, X.shape[0], batch):
        idx = order[i:i + batch]
        xb, yb = X[idx], Y[idx]  # gather the minibatch, as a DataLoader would
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


for name in models:
    print(f"{name} torch {epoch(mlp() if name == 'mlp' else cnn()):.3f}", flush=True)
