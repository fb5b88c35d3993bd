#!/usr/bin/env python3
"""The quantfit step written as users write it in numpy: exact midrise forward
stored as 8-bit, MSE loss, and the surrogate gradient in b (ste or atan),
over N float32 sample pairs read from a file of N original bytes then N
target bytes. Prints one JSON object per surrogate with the median step time.

    step_numpy.py DATA N [repeat]
"""
import json
import sys
import time

import numpy as np

B, GAMMA = 12.3, 0.9


def step(x, t, surrogate):
    z = x * B
    fl = np.floor(z)
    y = (fl + 0.5) / B
    clamped = y > 1
    y = np.minimum(y, 1.0)
    y = np.floor(y * 255 + 0.5) / 255
    if surrogate == "ste":
        dy = ((z - fl) - 0.5) / (B * B)
    else:
        theta = 2 * np.pi * (z - fl)
        c, s = np.cos(theta), np.sin(theta)
        den = 1 - 2 * GAMMA * c + GAMMA * GAMMA
        q = -0.5 + np.arctan2(GAMMA * s, 1 - GAMMA * c) / np.pi
        q1 = 2 * (GAMMA * c - GAMMA * GAMMA) / den
        dy = ((1 + q1) * z - (z + q) - 0.5) / (B * B)
    dy[clamped] = 0
    r = y - t
    return np.mean(r * r), np.mean(2 * r * dy)


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    repeat = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    raw = np.fromfile(path, dtype=np.uint8, count=2 * n)
    x = (raw[:n].astype(np.float32) / np.float32(255)).astype(np.float64)
    t = (raw[n:].astype(np.float32) / np.float32(255)).astype(np.float64)
    for surrogate in ("ste", "atan"):
        step(x, t, surrogate)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            step(x, t, surrogate)
            times.append(time.perf_counter() - t0)
        times.sort()
        print(json.dumps({"peer": "numpy", "surrogate": surrogate, "pixels": n,
                          "step_seconds_median": times[len(times) // 2]}))


if __name__ == "__main__":
    main()
