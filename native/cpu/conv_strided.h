// Strided pointwise convolution (1×1, stride > 1, groups 1) inside the CPU backend: the path
// convolutions of NASNet's factorized reduction. Whole-batch kernels behind
// conv2d_forward/backward. Same conventions as kernels.h.
#pragma once
#include "cpu/kernels.h"

namespace nasnet::cpu {

// The forward takes every is_strided_pointwise shape (core/shapes.h), with the input's ReLU too
// (relu_in); the backward the same without pads and without relu_in (padded ones take conv.cc's
// general path).
bool is_unpadded_strided_pointwise(const ConvShape& s);

// Whole batch, all threads (conv2d_backward computes the bias gradient itself, for every shape). The
// backward requires is_unpadded_strided_pointwise.
void strided_pointwise_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y);
void strided_pointwise_backward(const ConvShape& s, const float* x, const float* w, const float* dy, float* dx,
                                float* dw);

}  // namespace nasnet::cpu
