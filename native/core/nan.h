// How every kernel treats NaN, on every backend (CPU scalar and SIMD paths, CUDA): NaN propagates,
// as in PyTorch and ONNX Runtime, so a step on bad input or a diverged network reports a NaN loss
// and gradient norm instead of a finite number computed from zeros. One definition, included by
// the CPU kernels and the CUDA kernels alike (NASNET_HD), so the two cannot drift apart.
//
// `v != v` is the NaN test: it is what `std::isnan` compiles to, it vectorizes under `omp simd`,
// and it compiles for the device too. The build uses no -ffast-math, which would fold it away.
#pragma once
#include "core/random.h"  // NASNET_HD

namespace nasnet {

// ReLU: max(x, 0) for numbers, NaN for NaN (and 0, not -0, for -0).
NASNET_HD float relu_value(float x) { return x <= 0.0f ? 0.0f : x; }

// ReLU's backward from its output (or its input): dy where the ReLU passed its input (x > 0 or NaN),
// else 0 — PyTorch's threshold_backward.
NASNET_HD float relu_grad(float y, float dy) { return y <= 0.0f ? 0.0f : dy; }

// Max pooling's (and every running maximum's) rule: does value v replace the best so far? A larger
// value does, and so does a NaN (PyTorch's `val > maxval || isnan(val)`): a window holding a NaN
// yields NaN, and the last NaN in scan order is the argmax.
NASNET_HD bool max_takes(float v, float best) { return v > best || v != v; }

}  // namespace nasnet
