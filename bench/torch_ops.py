#!/usr/bin/env python3
"""PyTorch CPU twin of bench/kernels/ops_bench.cc: the same ops at the same shapes, forward and
backward (input and weight gradients), median of R runs, one JSON object per line with the same
"op" and "shape" keys. Usage: /usr/bin/python3 bench/torch_ops.py [reps] [threads]"""
import json
import sys
import time

import torch
import torch.nn.functional as F

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
torch.manual_seed(0)


def median_ms(fn):
    fn()
    t = []
    for _ in range(reps):
        a = time.perf_counter()
        fn()
        t.append((time.perf_counter() - a) * 1000)
    return sorted(t)[len(t) // 2]


def same_pad(h, k, s, d=1):
    e = d * (k - 1) + 1
    p = max(0, ((h + s - 1) // s - 1) * s + e - h)
    return p // 2, p - p // 2


def conv(name, N, C, H, K, k1, k2, stride, groups, dil=1):
    x = torch.randn(N, C, H, H, requires_grad=True)
    w = torch.randn(K, C // groups, k1, k2, requires_grad=True)
    ph, pw = same_pad(H, k1, stride, dil), same_pad(H, k2, stride, dil)

    def fwd():
        xp = F.pad(x, (pw[0], pw[1], ph[0], ph[1])) if (ph[0] != ph[1] or pw[0] != pw[1]) else x
        pad = 0 if xp is not x else (ph[0], pw[0])
        return F.conv2d(xp, w, None, stride, pad, dil, groups)

    with torch.no_grad():
        f = median_ms(fwd)
    y = fwd()
    dy = torch.randn_like(y)

    def bwd():
        x.grad = None
        w.grad = None
        torch.autograd.grad(y, (x, w), dy, retain_graph=True)

    b = median_ms(bwd)
    print(json.dumps({"op": name, "shape": f"N{N} C{C} {H}x{H} K{K} k{k1}x{k2} s{stride} g{groups}", "fwdMs": f, "bwdMs": b}))


def simple(name, shape, make, stride=1):
    x = torch.randn(*shape, requires_grad=True)
    with torch.no_grad():
        f = median_ms(lambda: make(x))
    y = make(x)
    dy = torch.randn_like(y)
    b = median_ms(lambda: torch.autograd.grad(y, (x,), dy, retain_graph=True))
    print(json.dumps({"op": name, "shape": shape_name(name, shape, stride), "fwdMs": f, "bwdMs": b}))


def shape_name(name, shape, stride=1):
    N, C, H, _ = shape
    base = f"N{N} C{C} {H}x{H}"
    return base + f" k3 s{stride}" if "pool" in name else base


def gemm(M):
    a, b = torch.randn(M, M), torch.randn(M, M)
    t = median_ms(lambda: torch.mm(a, b))
    print(json.dumps({"op": "sgemm", "shape": f"{M}x{M}x{M}", "fwdMs": t, "bwdMs": 0}))


N = 64
gemm(1024)
gemm(2048)
for C, H in [(32, 32), (64, 16), (128, 16)]:
    conv("conv1x1", N, C, H, C, 1, 1, 1, 1)
    conv("depthwise3x3", N, C, H, C, 3, 3, 1, C)
    conv("depthwise5x5", N, C, H, C, 5, 5, 1, C)
    conv("depthwise7x7", N, C, H, C, 7, 7, 1, C)
    conv("conv3x3", N, C, H, C, 3, 3, 1, 1)
    conv("conv1x7", N, C, H, C, 1, 7, 1, 1)
    g, bta = torch.ones(C, requires_grad=True), torch.zeros(C, requires_grad=True)
    rm, rv = torch.zeros(C), torch.ones(C)
    simple("batchnorm", (N, C, H, H), lambda x: F.batch_norm(x, rm, rv, g, bta, True, 0.1, 1e-5))
    simple("relu", (N, C, H, H), F.relu)
    simple("maxpool3x3", (N, C, H, H), lambda x: F.max_pool2d(x, 3, 1, 1))
    simple("avgpool3x3", (N, C, H, H), lambda x: F.avg_pool2d(x, 3, 1, 1, count_include_pad=False))
# Reduction cells' pools (PyTorch pads 1 on both sides; ours TF SAME: 0 before, 1 after).
for C, H in [(32, 32), (64, 16)]:
    simple("maxpool3x3", (N, C, H, H), lambda x: F.max_pool2d(x, 3, 2, 1), 2)
    simple("avgpool3x3", (N, C, H, H), lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), 2)
conv("depthwise5x5_s2", N, 64, 32, 64, 5, 5, 2, 64)
conv("conv1x1_s2", N, 64, 32, 32, 1, 1, 2, 1)
for C, H in [(48, 32), (96, 16), (192, 32), (384, 16)]:
    conv("conv1x1_s2", N, C, H, C // 6, 1, 1, 2, 1)
conv("conv1x1_s2", 1, 192, 32, 32, 1, 1, 2, 1)
conv("dilconv3x3", N, 32, 32, 32, 3, 3, 1, 32, 2)
