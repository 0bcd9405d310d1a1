#!/usr/bin/env python3
"""Runs a nasnet graph IR (JSON) in PyTorch, for side-by-side speed comparisons.

The same network as our engine runs: every IR op is mapped to its PyTorch equivalent, parameters are
created with the IR's shapes. Times training steps (forward, backward, SGD momentum) on random data.

  /usr/bin/python3 bench/torch_ir.py GRAPH.json --batch 64 --steps 10 --warmup 3 --threads 2 [--channels-last]
      [--device cuda] [--bf16] [--no-tf32] [--host-data] [--profile] [--serve]
Prints one JSON line: {"imagesPerSecond", "msPerStep", "layout", "threads", "device", "dtype", "torch",
"memory"}. "memory" (CPU only) is what a training step holds: "savedBytes", the distinct storages autograd
saves for backward in one forward (PyTorch's activation memory, counted by saved_tensors_hooks), and
"stepRssDeltaBytes", the process's peak RSS (ru_maxrss) after the steps less its RSS just before the model
was built (parameters, gradients, momentum, activations and allocator workspace), and "peakRssBytes".
--serve (for bench/step.ts, which alternates it with our engine): after set-up and warm-up prints one
JSON line {"ready": true}, then reads lines "K" from stdin, runs K training steps and prints {"ms": [K
step times], "cpuMs": [K step CPU times, all threads], "sysMs": [their system part], "faults": [minor
page faults]} for each; at end of input prints {"memory": ...} and exits.
The saved-for-backward count runs after the timed steps in both modes, never between warm-up and timed
steps: run there, that one forward under saved_tensors_hooks left the process (glibc malloc, 2@768
batch 32) faulting in ~500 MiB every following step (~130,000 minor faults, ~1 s system time per
step), half its standalone speed.
On CUDA, steps are timed after torch.cuda.synchronize(); --bf16 runs forward and loss under
torch.autocast(bfloat16) (fp32 master weights), as mixed-precision training is usually run.
"""
import argparse
import json
import resource
import sys
import time

import torch
import torch.nn.functional as F


class IrModule(torch.nn.Module):
    def __init__(self, graph):
        super().__init__()
        self.graph = graph
        self.params = torch.nn.ParameterDict()
        self.buffers_ = {}
        for p in graph["params"]:
            t = torch.randn(p["shape"]) * 0.05 if p["init"]["kind"] not in ("ones", "zeros") else (
                torch.ones(p["shape"]) if p["init"]["kind"] == "ones" else torch.zeros(p["shape"]))
            key = p["name"].replace("/", "__").replace(".", "_")
            if p["trainable"]:
                self.params[key] = torch.nn.Parameter(t)
            else:
                self.register_buffer(key, t)
            self.buffers_[p["name"]] = key

    def get(self, name):
        key = self.buffers_[name]
        return self.params[key] if key in self.params else getattr(self, key)

    def forward(self, images, labels, drop_rate=0.0):
        v = {"images": images, "labels": labels}
        for n in self.graph["nodes"]:
            op, a, ins = n["op"], n.get("attrs", {}), [v[i] for i in n["inputs"]]
            ps = [self.get(p) for p in n.get("params", [])]
            x = ins[0] if ins else None
            if op == "Conv":
                pads = a.get("pads", [0, 0, 0, 0])
                if pads[0] != pads[2] or pads[1] != pads[3]:
                    x = F.pad(x, (pads[1], pads[3], pads[0], pads[2]))
                    pad = 0
                else:
                    pad = (pads[0], pads[1])
                y = F.conv2d(x, ps[0], ps[1] if len(ps) > 1 else None, stride=tuple(a.get("strides", [1, 1])),
                             padding=pad, dilation=tuple(a.get("dilations", [1, 1])), groups=a.get("group", 1))
            elif op == "BatchNormalization":
                y = F.batch_norm(x, ps[2], ps[3], ps[0], ps[1], training=self.training,
                                 momentum=1 - a.get("momentum", 0.9), eps=a.get("epsilon", 1e-5))
            elif op == "Relu":
                y = F.relu(x)
            elif op in ("MaxPool", "AveragePool"):
                pads = a.get("pads", [0, 0, 0, 0])
                k, s = tuple(a["kernel_shape"]), tuple(a.get("strides", [1, 1]))
                if op == "MaxPool":
                    if pads[0] != pads[2] or pads[1] != pads[3]:
                        x = F.pad(x, (pads[1], pads[3], pads[0], pads[2]), value=float("-inf"))
                        y = F.max_pool2d(x, k, s)
                    else:
                        y = F.max_pool2d(x, k, s, padding=(pads[0], pads[1]))
                else:
                    cip = bool(a.get("count_include_pad", 0))
                    if pads[0] != pads[2] or pads[1] != pads[3]:
                        ones = torch.ones_like(x[:1, :1], memory_format=torch.contiguous_format)
                        xp = F.pad(x, (pads[1], pads[3], pads[0], pads[2]))
                        y = F.avg_pool2d(xp, k, s)
                        if not cip:
                            cnt = F.avg_pool2d(F.pad(ones, (pads[1], pads[3], pads[0], pads[2])), k, s)
                            y = y / cnt
                    else:
                        y = F.avg_pool2d(x, k, s, padding=(pads[0], pads[1]), count_include_pad=cip)
            elif op == "GlobalAveragePool":
                y = x.mean(dim=(2, 3), keepdim=True)
            elif op == "Flatten":
                y = torch.flatten(x, 1)
            elif op == "Gemm":
                y = F.linear(x, ps[0], ps[1])
            elif op == "Add":
                y = ins[0] + ins[1]
            elif op == "Concat":
                y = torch.cat(ins, dim=1)
            elif op == "Pad":
                p = a["pads"]
                y = F.pad(x, (p[3], p[7], p[2], p[6]))
            elif op == "Slice":
                y = x
                for ax, st, en, sp in zip(a["axes"], a["starts"], a["ends"], a.get("steps", [1] * len(a["axes"]))):
                    y = y.narrow(ax, st, max(0, min(en, y.shape[ax]) - st))[(slice(None),) * ax + (slice(None, None, sp),)]
            elif op in ("Identity",):
                y = x
            elif op == "Dropout":
                y = F.dropout(x, a.get("ratio", 0.5), self.training)
            elif op == "DropPath":
                rate = drop_rate * a.get("layer_ratio", 1.0)
                if self.training and rate > 0:
                    keep = 1 - rate
                    mask = (torch.rand(x.shape[0], 1, 1, 1, device=x.device) < keep).to(x.dtype) / keep
                    y = x * mask
                else:
                    y = x
            elif op == "SoftmaxCrossEntropy":
                y = F.cross_entropy(ins[0], ins[1].long(), label_smoothing=a.get("label_smoothing", 0.0))
            elif op == "WeightedSum":
                y = sum(w * t for w, t in zip(a["weights"], ins))
            else:
                raise ValueError(f"node {n['id']}: op {op} unknown to the PyTorch runner")
            v[n["id"]] = y
        return v[self.graph["loss"]]


def current_rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def saved_activation_bytes(model, images, labels, drop_rate):
    """Bytes of the distinct storages autograd saves for backward in one forward (not timed)."""
    seen = {}

    def storage(t):  # untyped_storage() is PyTorch 2's name; 1.13 has storage()
        return t.untyped_storage() if hasattr(t, "untyped_storage") else t.storage()

    def pack(t):
        st = storage(t)
        seen[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(images, labels, drop_rate)
    del loss
    # Parameters are saved too (by conv and linear) but they are not activation memory.
    params = {storage(p).data_ptr() for p in model.parameters()}
    params |= {storage(b).data_ptr() for b in model.buffers()}
    return sum(n for ptr, n in seen.items() if ptr not in params)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("graph")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--drop-rate", type=float, default=0.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--no-tf32", action="store_true",
                    help="true fp32 convolutions and matrix products (PyTorch lets cuDNN run fp32 convolutions as TF32 by default)")
    ap.add_argument("--host-data", action="store_true",
                    help="each step copies the batch from pinned host memory, as a training loop fed by a loader does")
    ap.add_argument("--profile", action="store_true",
                    help="after timing, profile 3 steps (torch.profiler) and print the top kernels to stderr")
    ap.add_argument("--serve", action="store_true",
                    help="run steps on request from stdin, for bench/step.ts's alternated rounds")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
        if args.no_tf32:
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
    graph = json.load(open(args.graph))
    shape = [args.batch if d == "N" else d for d in graph["inputs"][0]["shape"]]
    classes = next(p["shape"][0] for p in reversed(graph["params"]) if len(p["shape"]) == 2)
    model = IrModule(graph).to(device)
    images = torch.randn(shape, device=device)
    host_images = images.cpu().pin_memory() if args.host_data and cuda else None
    labels = torch.randint(0, classes, (args.batch,), device=device)
    rss_before = current_rss_bytes()
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    def step():
        nonlocal images
        opt.zero_grad(set_to_none=True)
        if host_images is not None:
            images = host_images.to(device, non_blocking=True)
            if args.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=args.bf16):
            loss = model(images, labels, args.drop_rate)
        loss.backward()
        opt.step()
        return loss

    def timed_step():
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = step()
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - t0, loss

    def memory(saved):
        if cuda:
            return None
        peak = peak_rss_bytes()
        return {"savedBytes": saved, "stepRssDeltaBytes": peak - rss_before, "peakRssBytes": peak}

    times = []
    loss = None
    for i in range(args.warmup + args.steps if not args.serve else args.warmup):
        t, loss = timed_step()
        if i >= args.warmup:
            times.append(t)
    if args.serve:
        print(json.dumps({"ready": True, "layout": "channels_last" if args.channels_last else "channels_first",
                          "threads": args.threads, "torch": torch.__version__}), flush=True)
        for line in sys.stdin:
            if not line.strip():
                continue
            ms, cpu_ms, sys_ms, faults = [], [], [], []
            for _ in range(int(line)):
                r0 = resource.getrusage(resource.RUSAGE_SELF)
                c0 = time.process_time()
                ms.append(1000 * timed_step()[0])
                cpu_ms.append(1000 * (time.process_time() - c0))
                r1 = resource.getrusage(resource.RUSAGE_SELF)
                sys_ms.append(1000 * (r1.ru_stime - r0.ru_stime))
                faults.append(r1.ru_minflt - r0.ru_minflt)
            print(json.dumps({"ms": ms, "cpuMs": cpu_ms, "sysMs": sys_ms, "faults": faults}), flush=True)
        saved = None if cuda else saved_activation_bytes(model, images, labels, args.drop_rate)
        print(json.dumps({"memory": memory(saved)}), flush=True)
        return
    saved = None if cuda else saved_activation_bytes(model, images, labels, args.drop_rate)
    if args.profile:
        from torch.profiler import ProfilerActivity, profile
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        with profile(activities=acts) as prof:
            for _ in range(3):
                step()
            if cuda:
                torch.cuda.synchronize()
        key = "self_cuda_time_total" if cuda else "self_cpu_time_total"
        try:
            table = prof.key_averages().table(sort_by=key, row_limit=30)
        except Exception:
            table = prof.key_averages().table(sort_by="self_device_time_total", row_limit=30)
        print(f"torch profile (3 steps, sorted by {key}):\n{table}", file=sys.stderr)
    ms = 1000 * sorted(times)[len(times) // 2]
    print(json.dumps({"imagesPerSecond": args.batch / (ms / 1000), "msPerStep": ms,
                      "layout": "channels_last" if args.channels_last else "channels_first",
                      "threads": args.threads, "device": str(device), "dtype": "bf16" if args.bf16 else "fp32",
                      "torch": torch.__version__, "loss": float(loss),
                      "hostData": bool(host_images is not None),
                      "tf32": bool(cuda and torch.backends.cudnn.allow_tf32), "memory": memory(saved)}))


if __name__ == "__main__":
    main()
