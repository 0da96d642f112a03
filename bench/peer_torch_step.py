#!/usr/bin/python3
"""PyTorch peer of bench_train_step.c: median time of one SGD step (forward, backward, update)
of the same MLP 784-128-10 and small CNN.  Output lines: "<model> <batch> torch <median_ms>"."""
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(threads)
torch.manual_seed(0)


def mlp():
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 7 * 7, 10))


def bench(model, x, t, reps):
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    times = []
    for it in range(reps + 2):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(model(x), t)
        loss.backward()
        opt.step()
        if it >= 2:
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


for name, b, reps in (("mlp", 1, 200), ("mlp", 64, 60), ("mlp", 256, 25), ("cnn", 64, 8)):
    x = torch.rand(b, 784) if name == "mlp" else torch.rand(b, 1, 28, 28)
    t = torch.randint(0, 10, (b,))
    print(f"{name} {b} torch {bench(mlp() if name == 'mlp' else cnn(), x, t, reps):.4f}", flush=True)
