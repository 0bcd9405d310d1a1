// Convolution by implicit GEMM: the im2col matrix is gathered inside the tiled GEMM's tile loads,
// so no column buffer is stored. Per group g (the GEMM batch index z):
//   forward:         y[g]  (Kg x N·OH·OW)    = w[g] (Kg x R) · col(x)[g] (R x N·OH·OW)
//   backward data:   dx[g] (Cg x N·H·W)      = w[g]ᵀ · "col2im(dy)", gathered per input pixel
//   backward filter: dw[g] (Kg x R)         += dy[g] (Kg x N·OH·OW) · col(x)[g]ᵀ
// N = batch, C = input channels, K = output channels, Cg = C/groups, Kg = K/groups,
// R = Cg·kh·kw (one filter's taps), H, W / OH, OW = input / output sizes.
// groups == C == K (depthwise) goes to depthwise.cu.
#include <algorithm>
#include <string>

#include "cuda/conv_gemm_ops.h"
#include "cuda/gemm_tiled.cuh"

namespace nasnet::cuda {

namespace {

// dw[i] += sum over split s (in order) of part[s, i].
__global__ void sum_splits(size_t n, int splits, const float* part, float* dw) {
  NASNET_GRID_STRIDE(i, n) {
    float acc = 0.f;
    for (int s = 0; s < splits; ++s) acc += part[(size_t)s * n + i];
    dw[i] += acc;
  }
}

}  // namespace

Status conv2d_forward(Stream stream, const ConvShape& s, const float* x, const float* w, const float* b, float* y) {
  if (s.groups == s.C && s.groups == s.K && s.groups > 1) return depthwise_forward(stream, s, x, w, b, y);
  ConvForwardOp op{dims_of(s), x, w, b, y};
  return launch_gemm(as_stream(stream), op, op.d.Kg, s.N * s.OH * s.OW, op.d.R, s.groups);
}

Status conv2d_backward(Stream stream, const ConvShape& s, const float* x, const float* w, const float* dy, float* dx,
                       float* dw, float* db) {
  if (s.groups == s.C && s.groups == s.K && s.groups > 1)
    return depthwise_backward(stream, s, x, w, dy, dx, dw, db);
  cudaStream_t st = as_stream(stream);
  ConvDims d = dims_of(s);
  if (dx != nullptr) {
    ConvBackwardDataOp op{d, w, dy, dx};
    NASNET_RETURN_IF_ERROR(launch_gemm(st, op, d.Cg, s.N * s.H * s.W, d.Kg * d.khw, s.groups));
  }
  if (dw != nullptr) {
    // The reduction runs over every output pixel of the batch, usually far longer than the Kg x R
    // tile grid is wide: split it so the device fills, then add the partials in split order.
    const int reduce = s.N * s.OH * s.OW;
    int splits = 1, chunk = reduce;
    filter_splits(s, &splits, &chunk);
    ConvBackwardFilterOp op{d, s.groups, x, dy, dw, nullptr};
    if (splits <= 1) {
      NASNET_RETURN_IF_ERROR(launch_gemm(st, op, d.Kg, d.R, reduce, s.groups));
    } else {
      size_t n = (size_t)s.groups * d.Kg * d.R;
      Scratch part(st);
      NASNET_RETURN_IF_ERROR(part.alloc(n * splits * sizeof(float)));
      op.part = part.as<float>();
      NASNET_RETURN_IF_ERROR(launch_gemm(st, op, d.Kg, d.R, reduce, s.groups, splits, chunk));
      CUDA_CHECK(NASNET_LAUNCH(sum_splits, grid_for(n), kThreads, 0, st, n, splits, part.as<float>(), dw));
    }
  }
  if (db != nullptr) NASNET_RETURN_IF_ERROR(channel_sum_accumulate(st, s.N, s.K, s.OH * s.OW, dy, db));
  return Status::Ok();
}

}  // namespace nasnet::cuda
