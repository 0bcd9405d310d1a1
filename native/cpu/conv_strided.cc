// Strided pointwise convolution (1×1, stride > 1, groups 1), forward and backward.
// N = batch, C = channels in, K = channels out, H, W = input size, OH, OW = output size, sh, sw =
// strides, pt, pl = leading pads, OHW = OH * OW. A row is one output row of the batch, r = n * OH + oh;
// the input rows it owns (backward, no pads) are [oh*sh, oh*sh + sh) (the last one: to H).
//
// Activations and dx are written (=); dw accumulates (+=). The bias gradient is conv2d_backward's.
//
// y[n, k, oh, ow] = sum over c of w[k, c] · x[n, c, oh*sh - pt, ow*sw - pl] (0 outside the image; x is
// max(0, x) with relu_in, a Relu an inference plan absorbed, sampled as it is gathered): a
// GEMM against the strided sample of x. The forward takes any pads, negative ones too: a negative
// leading pad starts the sample inside the image, which is how inference plans run a 1×1 convolution
// of a shifted input (Pad → Slice → Conv, NASNet's factorized reduction) without the shifted copy. Each thread takes a contiguous range of rows (whole images when the batch splits evenly, parts
// of one image at batch 1) and walks it in blocks of about kBlockCols output positions:
//   col[C, cols] = the block's strided sample of x (its rows one after another, across images);
//   forward:  y[n][:, the block's positions] = W · col, W packed once per call (one GEMM per image the
//             block touches);
//   backward: dyb[K, cols] = the block's dy; dW += dyb · colᵀ, one GEMM whose inner dimension is the
//             whole block (long enough for the direct A·Bᵀ path: no packing); col = Wᵀ · dyb; then
//             every input row the block owns is written once: the sampled positions from col, all
//             others 0 (no memset of dx, no col2im).
// dW goes to per-thread partials summed in thread order: deterministic for a given thread count.
// A call under kSplitFlops runs on the calling thread.
#include "cpu/conv_strided.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/nan.h"
#include "cpu/dispatch.h"
#include "cpu/elementwise.h"
#include "cpu/scratch.h"

namespace nasnet::cpu {
namespace {

// Output positions per block: with the outputs of 16×16 and 8×8 planes, 2 and 8 images; the dW GEMM's
// inner dimension reaches the 512 from which the direct A·Bᵀ path beats packing (gemm.cc).
constexpr int kBlockCols = 512;
// At most this many floats in col (C × cols, 512 KiB): the block stays in L2 between its GEMMs.
constexpr size_t kMaxColFloats = size_t{1} << 17;

// Output rows per block.
int block_rows(const ConvShape& s) {
  const int want = (kBlockCols + s.OW - 1) / s.OW;
  const int fit = static_cast<int>(kMaxColFloats / (static_cast<size_t>(s.C) * s.OW));
  return std::max(1, std::min(want, fit));
}

// Calls fn(n, oh0, oh1, j) for each image's part of the rows [r0, r1): image n's output rows
// [oh0, oh1), at column j = (first row - r0) * OW of the block.
template <typename Fn>
void for_each_image(const ConvShape& s, int64_t r0, int64_t r1, Fn&& fn) {
  for (int64_t r = r0; r < r1;) {
    const int n = static_cast<int>(r / s.OH), oh0 = static_cast<int>(r % s.OH);
    const int oh1 = static_cast<int>(std::min<int64_t>(s.OH, oh0 + (r1 - r)));
    fn(n, oh0, oh1, static_cast<size_t>(r - r0) * s.OW);
    r += oh1 - oh0;
  }
}

// col[c, (oh - oh0)*OW + ow] = x[n, c, oh*sh - pt, ow*sw - pl] (0 outside the image) for oh in
// [oh0, oh1), relu_value of it with s.relu_in; col rows ld apart.
void gather(const ConvShape& s, const float* x, int n, int oh0, int oh1, float* col, size_t ld) {
  // Output columns [lo, hi) sample inside the image; the rest are 0.
  const int lo = std::min(s.OW, s.pl > 0 ? (s.pl + s.sw - 1) / s.sw : 0);
  const int last = s.W - 1 + s.pl;  // the output column's input column is ow * sw - pl <= W - 1
  const int hi = last < 0 ? lo : std::max(lo, std::min(s.OW, last / s.sw + 1));
  const int first = lo * s.sw - s.pl;  // the input column of output column lo
  for (int c = 0; c < s.C; ++c) {
    const float* plane = x + (static_cast<size_t>(n) * s.C + c) * s.H * s.W;
    float* d = col + c * ld;
    for (int oh = oh0; oh < oh1; ++oh, d += s.OW) {
      const int ih = oh * s.sh - s.pt;
      if (ih < 0 || ih >= s.H) {
        std::memset(d, 0, sizeof(float) * s.OW);
        continue;
      }
      const int m = hi - lo;
      const float* src = plane + static_cast<size_t>(ih) * s.W + (m > 0 ? first : 0);
      float* out = d + lo;
      if (m <= 0) {
      } else if (s.sw == 1)
        std::memcpy(out, src, sizeof(float) * m);
      else if (s.sw == 2)
        for (int ow = 0; ow < m; ++ow) out[ow] = src[2 * ow];
      else
        for (int ow = 0; ow < m; ++ow) out[ow] = src[ow * s.sw];
      if (s.relu_in)
        for (int ow = 0; ow < m; ++ow) out[ow] = relu_value(out[ow]);
      for (int ow = 0; ow < lo; ++ow) d[ow] = 0.0f;
      for (int ow = hi; ow < s.OW; ++ow) d[ow] = 0.0f;
    }
  }
}

// The input rows that image n's output rows [oh0, oh1) own, written whole: dx[n, c, oh*sh, ow*sw] =
// col[c, (oh - oh0)*OW + ow], every other position 0. col rows ld apart.
void scatter(const ConvShape& s, const float* col, size_t ld, int n, int oh0, int oh1, float* dx) {
  for (int c = 0; c < s.C; ++c) {
    float* plane = dx + (static_cast<size_t>(n) * s.C + c) * s.H * s.W;
    const float* src = col + c * ld;
    for (int oh = oh0; oh < oh1; ++oh, src += s.OW) {
      float* d = plane + static_cast<size_t>(oh) * s.sh * s.W;
      if (s.sw == 1) {
        std::memcpy(d, src, sizeof(float) * s.OW);  // OW == W
      } else if (s.sw == 2) {
        const int pairs = s.W / 2;  // OW is pairs, or pairs + 1 for an odd W
        for (int ow = 0; ow < pairs; ++ow) {
          d[2 * ow] = src[ow];
          d[2 * ow + 1] = 0.0f;
        }
        if (s.W % 2 != 0) d[s.W - 1] = src[pairs];
      } else {
        std::memset(d, 0, sizeof(float) * s.W);
        for (int ow = 0; ow < s.OW; ++ow) d[ow * s.sw] = src[ow];
      }
      const int rows = oh == s.OH - 1 ? s.H - oh * s.sh : s.sh;
      // The unsampled rows below it (contiguous).
      std::memset(d + s.W, 0, sizeof(float) * static_cast<size_t>(rows - 1) * s.W);
    }
  }
}

// Threads for a call: 1 below kSplitFlops (with SerialScope, so its GEMMs stay serial as well).
int call_threads(const ConvShape& s) {
  const double flops = 2.0 * s.N * s.K * s.C * static_cast<double>(s.OH) * s.OW;
  return flops < kSplitFlops ? 1 : kernel_threads();
}

// Runs body(r0, r1, t) on each of `threads` threads over its share of the batch's rows; returns the team size.
template <typename Body>
int split_rows(const ConvShape& s, int threads, Body&& body) {
  const int64_t rows = static_cast<int64_t>(s.N) * s.OH;
  if (threads <= 1) {
    SerialScope serial;  // the GEMMs stay on this thread
    body(int64_t{0}, rows, 0);
    return 1;
  }
  int used = 1;
  parallel_team(threads, [&](int t, int team) {
    if (t == 0) used = team;
    body(rows * t / team, rows * (t + 1) / team, t);
  });
  return used;
}

}  // namespace

bool is_unpadded_strided_pointwise(const ConvShape& s) {
  return is_strided_pointwise(s) && s.pt == 0 && s.pl == 0 && s.pb == 0 && s.pr == 0;
}

void strided_pointwise_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y) {
  const int C = s.C, K = s.K;
  const size_t OHW = static_cast<size_t>(s.OH) * s.OW;
  thread_local Scratch w_packed_buf;
  float* const w_packed = w_packed_buf.get(sgemm_packed_a_floats(K, C));
  sgemm_pack_a(false, K, C, 1.0f, w, C, w_packed);
  const int rb = block_rows(s);
  split_rows(s, call_threads(s), [&](int64_t r0, int64_t r1, int) {
    thread_local Scratch col_buf;
    float* col = col_buf.get(static_cast<size_t>(C) * rb * s.OW);
    for (int64_t b0 = r0; b0 < r1; b0 += rb) {
      const int64_t b1 = std::min(r1, b0 + rb);
      const size_t cols = static_cast<size_t>(b1 - b0) * s.OW;
      for_each_image(s, b0, b1, [&](int n, int oh0, int oh1, size_t j) { gather(s, x, n, oh0, oh1, col + j, cols); });
      for_each_image(s, b0, b1, [&](int n, int oh0, int oh1, size_t j) {
        const int m = (oh1 - oh0) * s.OW;
        float* yn = y + static_cast<size_t>(n) * K * OHW + static_cast<size_t>(oh0) * s.OW;
        sgemm_packed(w_packed, false, K, m, C, col + j, static_cast<int>(cols), 0.0f, yn, static_cast<int>(OHW),
                     PackedGemmExtras{false, b});
      });
    }
  });
}

void strided_pointwise_backward(const ConvShape& s, const float* x, const float* w, const float* dy, float* dx,
                                float* dw) {
  if (dx == nullptr && dw == nullptr) return;
  const int C = s.C, K = s.K;
  const size_t OHW = static_cast<size_t>(s.OH) * s.OW;
  // Wᵀ [C, K] packed once for every block's col = Wᵀ · dyb.
  thread_local Scratch wt_packed_buf;
  float* const wt_packed = dx != nullptr ? wt_packed_buf.get(sgemm_packed_a_floats(C, K)) : nullptr;
  if (dx != nullptr) sgemm_pack_a(true, C, K, 1.0f, w, C, wt_packed);
  const int threads = call_threads(s);
  const size_t w_size = static_cast<size_t>(K) * C;
  thread_local Scratch part_buf;
  float* const parts = dw != nullptr && threads > 1 ? part_buf.get(w_size * threads) : nullptr;
  const int rb = block_rows(s);
  const int team = split_rows(s, threads, [&](int64_t r0, int64_t r1, int t) {
    thread_local Scratch col_buf, dyb_buf;
    const size_t max_cols = static_cast<size_t>(rb) * s.OW;
    float* col = col_buf.get(static_cast<size_t>(C) * max_cols);
    float* dyb = dyb_buf.get(static_cast<size_t>(K) * max_cols);
    float* mine = parts != nullptr ? parts + w_size * t : dw;
    if (parts != nullptr) std::memset(mine, 0, sizeof(float) * w_size);
    for (int64_t b0 = r0; b0 < r1; b0 += rb) {
      const int64_t b1 = std::min(r1, b0 + rb);
      const size_t cols = static_cast<size_t>(b1 - b0) * s.OW;
      const int ncols = static_cast<int>(cols);
      for_each_image(s, b0, b1, [&](int n, int oh0, int oh1, size_t j) {
        const size_t m = static_cast<size_t>(oh1 - oh0) * s.OW;
        const float* src = dy + static_cast<size_t>(n) * K * OHW + static_cast<size_t>(oh0) * s.OW;
        for (int k = 0; k < K; ++k) std::memcpy(dyb + k * cols + j, src + k * OHW, sizeof(float) * m);
      });
      if (mine != nullptr) {
        for_each_image(s, b0, b1, [&](int n, int oh0, int oh1, size_t j) { gather(s, x, n, oh0, oh1, col + j, cols); });
        sgemm(false, true, K, C, ncols, 1.0f, dyb, ncols, col, ncols, 1.0f, mine, C);
      }
      if (dx != nullptr) {
        sgemm_packed(wt_packed, false, C, ncols, K, dyb, ncols, 0.0f, col, ncols);
        for_each_image(s, b0, b1, [&](int n, int oh0, int oh1, size_t j) { scatter(s, col + j, cols, n, oh0, oh1, dx); });
      }
    }
  });
  if (parts == nullptr) return;
  // Partials summed in thread order.
  parallel_chunks(threads, w_size, [&](size_t lo, size_t hi) { add_partials(lo, hi, team, parts, w_size, dw); });
}

}  // namespace nasnet::cpu
