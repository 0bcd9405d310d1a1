// The CUDA convolution's implicit-GEMM index arithmetic (native/cuda/conv_gemm_ops.h), driven on the
// host through a reference loop with the tiled kernel's contract (K range per split, partials added
// in split order), against the CPU convolution. Runs without a device, so the seeks that the device
// kernels use are checked on every machine. Tolerance atol = rtol = 1e-4 (float sums in a different
// order over at most a few hundred terms of magnitude <= 1).
#include <cmath>
#include <cstdio>
#include <vector>

#include "core/random.h"
#include "cpu/kernels.h"
#include "cuda/conv_gemm_ops.h"
#include "tests/kernels_util.h"
#include "tests/test.h"

namespace {

namespace cu = nasnet::cuda;
namespace cpu = nasnet::cpu;

// What gemm_tiled_kernel computes, one output at a time: for each batch z and split, the products
// over k in [split*chunk, min(K, (split+1)*chunk)), accumulated in k order with fmaf.
template <class Op>
void emulate(const Op& op, int M, int N, int K, int batches, int splits = 1, int chunk = 0) {
  if (chunk <= 0) chunk = K;
  for (int z = 0; z < batches; ++z)
    for (int sp = 0; sp < splits; ++sp) {
      int k0 = sp * chunk, k1 = std::min(K, k0 + chunk);
      for (int m = 0; m < M; ++m)
        for (int n = 0; n < N; ++n) {
          float acc = 0.f;
          for (int k = k0; k < k1; ++k) acc = std::fma(op.a(z, m, k), op.b(z, k, n), acc);
          op.store(z, sp, m, n, acc);
        }
    }
}

std::vector<float> rnd(size_t n, uint64_t seed) { return nasnet::test::counter_random(n, seed, 5); }

bool close(const char* what, const std::vector<float>& got, const std::vector<float>& ref) { return nasnet::test::all_close(what, got, ref, 1e-4, 1e-4); }

cpu::ConvShape shape(int N, int C, int H, int W, int K, int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr,
                     int dh, int dw, int groups) {
  cpu::ConvShape s{N, C, H, W, K, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, groups, 0, 0};
  s.OH = (H + pt + pb - dh * (kh - 1) - 1) / sh + 1;
  s.OW = (W + pl + pr - dw * (kw - 1) - 1) / sw + 1;
  return s;
}

void check(const cpu::ConvShape& s) {
  size_t nx = (size_t)s.N * s.C * s.H * s.W, nw = (size_t)s.K * (s.C / s.groups) * s.kh * s.kw,
         ny = (size_t)s.N * s.K * s.OH * s.OW;
  auto x = rnd(nx, 1), w = rnd(nw, 2), b = rnd(s.K, 3), dy = rnd(ny, 4), dw0 = rnd(nw, 5);
  std::vector<float> y(ny), dx(nx), dw = dw0;
  cpu::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
  cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), nullptr);

  const cu::ConvDims d = cu::dims_of(s);
  std::vector<float> gy(ny, NAN), gdx(nx, NAN), gdw = dw0;
  emulate(cu::ConvForwardOp{d, x.data(), w.data(), b.data(), gy.data()}, d.Kg, s.N * s.OH * s.OW, d.R, s.groups);
  emulate(cu::ConvBackwardDataOp{d, w.data(), dy.data(), gdx.data()}, d.Cg, s.N * s.H * s.W, d.Kg * d.khw, s.groups);
  int splits = 1, chunk = 0;
  cu::filter_splits(s, &splits, &chunk);
  const int reduce = s.N * s.OH * s.OW;
  if (splits <= 1) {
    emulate(cu::ConvBackwardFilterOp{d, s.groups, x.data(), dy.data(), gdw.data(), nullptr}, d.Kg, d.R, reduce,
            s.groups);
  } else {
    std::vector<float> part(nw * splits, NAN);
    emulate(cu::ConvBackwardFilterOp{d, s.groups, x.data(), dy.data(), gdw.data(), part.data()}, d.Kg, d.R, reduce,
            s.groups, splits, chunk);
    for (size_t i = 0; i < nw; ++i) {  // sum_splits in conv.cu
      float acc = 0.f;
      for (int sp = 0; sp < splits; ++sp) acc += part[(size_t)sp * nw + i];
      gdw[i] += acc;
    }
  }
  std::printf("  N=%d C=%d %dx%d K=%d k=%dx%d s=%d,%d pads=%d,%d,%d,%d d=%d,%d g=%d: filter splits %d x %d\n", s.N,
              s.C, s.H, s.W, s.K, s.kh, s.kw, s.sh, s.sw, s.pt, s.pl, s.pb, s.pr, s.dh, s.dw, s.groups, splits, chunk);
  close("y", gy, y);
  close("dx", gdx, dx);
  close("dw", gdw, dw);
}

}  // namespace

NASNET_TEST(cuda_conv_gemm_ops_match_cpu_on_host) {
  check(shape(2, 6, 9, 11, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1));
  check(shape(3, 5, 12, 10, 7, 3, 3, 2, 2, 0, 0, 1, 1, 2, 2, 1));
  check(shape(2, 8, 7, 7, 12, 5, 3, 1, 2, 2, 1, 2, 1, 1, 1, 4));
  check(shape(4, 16, 6, 6, 24, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1));
  check(shape(2, 4, 8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4));
  check(shape(2, 6, 11, 11, 6, 7, 7, 2, 2, 2, 3, 3, 2, 1, 1, 6));
}

NASNET_TEST(cuda_conv_filter_splits_cover_the_reduction) {
  // N*OH*OW = 8192: split into chunks of whole K steps that cover it exactly once
  auto s = shape(8, 4, 32, 32, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
  int splits = 0, chunk = 0;
  nasnet::cuda::filter_splits(s, &splits, &chunk);
  EXPECT_TRUE(splits > 1);
  EXPECT_TRUE(chunk % nasnet::cuda::kTileK == 0);
  EXPECT_TRUE((splits - 1) * chunk < 8192 && splits * chunk >= 8192);
  check(s);
  // a short reduction stays in one piece
  auto t = shape(1, 4, 8, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
  nasnet::cuda::filter_splits(t, &splits, &chunk);
  EXPECT_TRUE(splits == 1 && chunk >= 64);
}
