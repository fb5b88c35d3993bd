#!/usr/bin/env python3
"""The quantfit step in PyTorch, three ways, on the same data as
step_numpy.py: eager autograd through the atan surrogate as users write it
(straight-through: exact forward, surrogate backward), the hand-written
gradient in eager mode, and torch.compile of the hand-written gradient
(PyTorch 2 or newer). On CUDA when there is a GPU, else on the CPU.

    step_torch.py DATA N [repeat]
"""
import json
import math
import sys
import time

import numpy as np
import torch

B, GAMMA = 12.3, 0.9


def floor_atan(z):
    return z - 0.5 - torch.atan(-GAMMA * torch.sin(2 * math.pi * z) / (1 - GAMMA * torch.cos(2 * math.pi * z))) / math.pi


def autograd_step(x, t, b):
    z = x * b
    y_soft = (floor_atan(z) + 0.5) / b
    y_exact = torch.clamp((torch.floor(z) + 0.5) / b, max=1.0)
    y_exact = torch.floor(y_exact * 255 + 0.5) / 255
    y = y_exact.detach() + (y_soft - y_soft.detach())
    loss = torch.mean((y - t) ** 2)
    loss.backward()
    g = b.grad.item()
    b.grad = None
    return loss.item(), g


def hand_step(x, t):
    z = x * B
    fl = torch.floor(z)
    y = (fl + 0.5) / B
    clamped = y > 1
    y = torch.floor(torch.clamp(y, max=1.0) * 255 + 0.5) / 255
    theta = 2 * math.pi * (z - fl)
    c, s = torch.cos(theta), torch.sin(theta)
    q = -0.5 + torch.atan2(GAMMA * s, 1 - GAMMA * c) / math.pi
    q1 = 2 * (GAMMA * c - GAMMA * GAMMA) / (1 - 2 * GAMMA * c + GAMMA * GAMMA)
    dy = torch.where(clamped, torch.zeros_like(z), ((1 + q1) * z - (z + q) - 0.5) / (B * B))
    r = y - t
    return torch.stack([torch.mean(r * r), torch.mean(2 * r * dy)])


def timed(fn, repeat, sync):
    fn()
    sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    repeat = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    raw = np.fromfile(path, dtype=np.uint8, count=2 * n)
    x = torch.tensor(raw[:n].astype(np.float32) / np.float32(255), device=dev)
    t = torch.tensor(raw[n:].astype(np.float32) / np.float32(255), device=dev)
    b = torch.tensor(B, device=dev, requires_grad=True)
    out = {"autograd": timed(lambda: autograd_step(x, t, b), repeat, sync),
           "eager": timed(lambda: hand_step(x, t).cpu(), repeat, sync)}
    if hasattr(torch, "compile"):
        compiled = torch.compile(hand_step)
        out["compile"] = timed(lambda: compiled(x, t).cpu(), repeat, sync)
    for name, sec in out.items():
        print(json.dumps({"peer": "torch-" + name, "device": dev, "surrogate": "atan", "pixels": n,
                          "step_seconds_median": sec}))


if __name__ == "__main__":
    main()
