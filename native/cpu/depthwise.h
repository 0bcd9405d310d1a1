// Depthwise convolution (groups == C == K) inside the CPU backend: the whole-batch kernels behind
// conv2d_forward/backward, and per-plane / per-image entry points for fused kernels that run whole
// images on their own threads (fused_conv_bn.cc). Same conventions as kernels.h.
#pragma once
#include <cstddef>

#include "cpu/kernels.h"

namespace nasnet::cpu {

// Whole batch, all threads (conv2d_forward/backward with a depthwise shape; conv2d_backward computes
// the bias gradient itself, for every shape).
void depthwise_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y);
void depthwise_backward(const ConvShape& s, const float* x, const float* w, const float* dy, float* dx, float* dw);

// One plane on the calling thread: yp[OH, OW] = bias + correlation of xp[H, W] (or, with relu_in,
// of relu_value(xp), applied as the plane is read: no ReLU pass) with wk[kh, kw].
// `scratch` holds at least depthwise_plane_scratch_floats(s) floats, 64-byte aligned.
size_t depthwise_plane_scratch_floats(const ConvShape& s);
void depthwise_forward_plane(const ConvShape& s, const float* xp, const float* wk, float bias, float* yp,
                             float* scratch, bool relu_in = false);
// `count` planes on the calling thread, as depthwise_forward_plane on each: plane q reads
// xp + q * x_stride with weights wk + q * kh*kw and bias[q] (0 when bias is nullptr), and writes
// yp + q * y_stride. What a plane costs apart from its correlation (dispatch, masks, the padded
// buffer's zeroing) is paid once: small planes (8×8: 36 FMAs for a 3×3 kernel) are dominated by it.
void depthwise_forward_planes(const ConvShape& s, int count, const float* xp, size_t x_stride, const float* wk,
                              const float* bias, float* yp, size_t y_stride, float* scratch, bool relu_in = false);

// One image on the calling thread (s.N is ignored): x [C, H, W], dy [C, OH, OW]; dx [C, H, W] written
// (or nullptr); dw [C, kh, kw] accumulated. `scratch` holds depthwise_image_backward_scratch_floats(s)
// floats, 64-byte aligned.
size_t depthwise_image_backward_scratch_floats(const ConvShape& s);
void depthwise_image_backward(const ConvShape& s, const float* x, const float* w, const float* dy, float* dx,
                              float* dw, float* scratch);

}  // namespace nasnet::cpu
