// Depthwise convolution (groups == C == K): one filter plane per channel, w: [C, 1, kh, kw].
// N = batch, C = channels, H, W / OH, OW = input / output sizes, kh, kw = kernel, tap t = (i, j).
// forward:         one thread per output pixel, taps in (i, j) order.
// backward data:   one thread per input pixel, gathering the outputs whose window covers it.
// relu_depthwise_*: the layer reads relu(x) without storing it; its backward masks dx by relu(x) and
//                  reads relu(x) for the filter gradient, so the chain never writes relu(x).
// backward filter: a split reduction (pixel_ops.h): block (channel·taps + tap, slice) sums one slice
//                  of the images in a fixed order, then the slices are added in order.
#include <string>

#include "cuda/common.cuh"
#include "cuda/pixel_ops.h"

namespace nasnet::cuda {

namespace {

template <bool kReluInput>
__global__ void depthwise_forward_kernel(ConvShape s, const float* x, const float* w, const float* b, float* y) {
  NASNET_GRID_STRIDE(idx, (size_t)s.N * s.C * s.OH * s.OW) { y[idx] = depthwise_out_at(s, x, w, b, idx, kReluInput); }
}

// kReluInput: the layer read relu(x), so dx passes where relu(x) does (relu_grad of relu(x), NaN included).
template <bool kReluInput>
__global__ void depthwise_backward_data_kernel(ConvShape s, const float* x, const float* w, const float* dy, float* dx) {
  NASNET_GRID_STRIDE(idx, (size_t)s.N * s.C * s.H * s.W) {
    const float g = depthwise_dx_at(s, w, dy, idx);
    dx[idx] = kReluInput ? relu_grad(relu_value(x[idx]), g) : g;
  }
}

// Block (row = c·khw + tap, j): partial[row · S + j] over slice j of the images.
template <bool kReluInput>
__global__ void depthwise_dw_slice_kernel(ConvShape s, int slices, const float* x, const float* dy, double* partial) {
  NASNET_SHARED(double[kThreads], scratch);
  const int khw = s.kh * s.kw, row = blockIdx.x, j = blockIdx.y;
  const int n0 = depthwise_dw_slice_begin(s, slices, j), n1 = depthwise_dw_slice_begin(s, slices, j + 1);
  double acc = depthwise_dw_slice_partial(s, x, dy, row / khw, row % khw, n0, n1, threadIdx.x, blockDim.x, kReluInput);
  double total = block_sum(acc, scratch);
  if (threadIdx.x == 0) partial[(size_t)row * slices + j] = total;
}

// dw[row] += the row's slice partials, in slice order.
__global__ void depthwise_dw_sum_kernel(size_t rows, int slices, const double* partial, float* dw) {
  NASNET_GRID_STRIDE(row, rows) {
    double total = 0.0;
    for (int j = 0; j < slices; ++j) total += partial[row * slices + j];
    dw[row] += static_cast<float>(total);
  }
}

}  // namespace

Status depthwise_forward(Stream stream, const ConvShape& s, const float* x, const float* w, const float* b, float* y) {
  size_t total = (size_t)s.N * s.C * s.OH * s.OW;
  CUDA_CHECK(NASNET_LAUNCH(depthwise_forward_kernel<false>, grid_for(total), kThreads, 0, as_stream(stream), s, x, w,
                           b, y));
  return Status::Ok();
}

Status relu_depthwise_forward(Stream stream, const ConvShape& s, const float* x, const float* w, const float* b,
                              float* y) {
  size_t total = (size_t)s.N * s.C * s.OH * s.OW;
  CUDA_CHECK(NASNET_LAUNCH(depthwise_forward_kernel<true>, grid_for(total), kThreads, 0, as_stream(stream), s, x, w,
                           b, y));
  return Status::Ok();
}

namespace {

template <bool kReluInput>
Status backward(Stream stream, const ConvShape& s, const float* x, const float* w, const float* dy, float* dx,
                float* dw, float* db) {
  cudaStream_t st = as_stream(stream);
  if (dx != nullptr) {
    size_t total = (size_t)s.N * s.C * s.H * s.W;
    CUDA_CHECK(NASNET_LAUNCH(depthwise_backward_data_kernel<kReluInput>, grid_for(total), kThreads, 0, st, s, x, w, dy,
                             dx));
  }
  if (dw != nullptr && s.N > 0) {
    const int S = depthwise_dw_slices(s);
    const unsigned long long slice = (unsigned long long)((s.N + S - 1) / S) * s.OH * s.OW;
    if (slice >= (1ull << 31))
      return Status::Invalid("cuda depthwise filter gradient: " + std::to_string((s.N + S - 1) / S) + " images of " +
                             std::to_string(s.OH) + "x" + std::to_string(s.OW) + " are too many for 32-bit indexing");
    const size_t rows = (size_t)s.C * s.kh * s.kw;
    Scratch partial(st);
    NASNET_RETURN_IF_ERROR(partial.alloc(rows * S * sizeof(double)));
    CUDA_CHECK(NASNET_LAUNCH(depthwise_dw_slice_kernel<kReluInput>, dim3(static_cast<unsigned>(rows), S), kThreads, 0,
                             st, s, S, x, dy, partial.as<double>()));
    CUDA_CHECK(NASNET_LAUNCH(depthwise_dw_sum_kernel, grid_for(rows), kThreads, 0, st, rows, S, partial.as<double>(), dw));
  }
  if (db != nullptr) NASNET_RETURN_IF_ERROR(channel_sum_accumulate(st, s.N, s.K, s.OH * s.OW, dy, db));
  return Status::Ok();
}

}  // namespace

Status depthwise_backward(Stream stream, const ConvShape& s, const float* x, const float* w, const float* dy,
                          float* dx, float* dw, float* db) {
  return backward<false>(stream, s, x, w, dy, dx, dw, db);
}

Status relu_depthwise_backward(Stream stream, const ConvShape& s, const float* x, const float* w, const float* dy,
                               float* dx, float* dw, float* db) {
  return backward<true>(stream, s, x, w, dy, dx, dw, db);
}

}  // namespace nasnet::cuda
