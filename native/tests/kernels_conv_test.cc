// conv2d forward/backward (pointwise, im2col, grouped, depthwise) against a naive fp64 convolution,
// gradients against central differences of L = sum(dy * y) in fp64, at every SIMD level.
// Tolerances: values rtol 1e-4 / atol 2e-6 * (terms per output) (fp32 sums vs fp64); gradients
// rtol 1e-3 / atol 1e-4 (fp32 sums of up to a few hundred products; L is linear in x, w and b, so the
// fp64 central difference is exact up to rounding).
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/nan.h"
#include "cpu/depthwise.h"
#include "cpu/dispatch.h"
#include "cpu/kernels.h"
#include "cpu/scratch.h"
#include "plan/backend.h"
#include "tests/kernels_util.h"

using namespace nasnet;
using namespace nasnet::test;
using nasnet::cpu::ConvShape;

namespace {

ConvShape make(int N, int C, int H, int W, int K, int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr,
               int dh, int dw, int groups) {
  ConvShape s{N, C, H, W, K, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, groups, 0, 0};
  s.OH = (H + pt + pb - dh * (kh - 1) - 1) / sh + 1;
  s.OW = (W + pl + pr - dw * (kw - 1) - 1) / sw + 1;
  return s;
}

void ref_conv(const ConvShape& s, const std::vector<double>& x, const std::vector<double>& w,
              const std::vector<double>* b, std::vector<double>& y) {
  const int Cg = s.C / s.groups, Kg = s.K / s.groups;
  y.assign(static_cast<size_t>(s.N) * s.K * s.OH * s.OW, 0.0);
  for (int n = 0; n < s.N; ++n)
    for (int k = 0; k < s.K; ++k) {
      const int g = k / Kg;
      for (int oh = 0; oh < s.OH; ++oh)
        for (int ow = 0; ow < s.OW; ++ow) {
          double acc = b != nullptr ? (*b)[k] : 0.0;
          for (int c = 0; c < Cg; ++c)
            for (int i = 0; i < s.kh; ++i)
              for (int j = 0; j < s.kw; ++j) {
                int ih = oh * s.sh - s.pt + i * s.dh, iw = ow * s.sw - s.pl + j * s.dw;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                acc += x[((static_cast<size_t>(n) * s.C + g * Cg + c) * s.H + ih) * s.W + iw] *
                       w[((static_cast<size_t>(k) * Cg + c) * s.kh + i) * s.kw + j];
              }
          y[((static_cast<size_t>(n) * s.K + k) * s.OH + oh) * s.OW + ow] = acc;
        }
    }
}

void check_conv(const char* name, const ConvShape& s, bool with_bias, uint32_t seed) {
  const int Cg = s.C / s.groups;
  const size_t nx = static_cast<size_t>(s.N) * s.C * s.H * s.W, nw = static_cast<size_t>(s.K) * Cg * s.kh * s.kw,
               ny = static_cast<size_t>(s.N) * s.K * s.OH * s.OW;
  std::vector<float> x = random_vec(nx, seed), w = random_vec(nw, seed + 1), b = random_vec(s.K, seed + 2),
                     dy = random_vec(ny, seed + 3);
  std::vector<double> xd = to_double(x), wd = to_double(w), bd = to_double(b);
  std::vector<double> yref;
  ref_conv(s, xd, wd, with_bias ? &bd : nullptr, yref);
  auto objective = [&]() {
    std::vector<double> y;
    ref_conv(s, xd, wd, with_bias ? &bd : nullptr, y);
    double L = 0;
    for (size_t q = 0; q < ny; ++q) L += dy[q] * y[q];
    return L;
  };
  std::vector<size_t> ix = sample_indices(nx, 400, seed), iw = sample_indices(nw, 300, seed + 1),
                      ib = sample_indices(s.K, 64, seed + 2);
  const std::vector<double> gx = numeric_grad(xd, ix, objective, 1e-3);
  const std::vector<double> gw = numeric_grad(wd, iw, objective, 1e-3);
  const std::vector<double> gb = numeric_grad(bd, ib, objective, 1e-3);
  const double terms = static_cast<double>(Cg) * s.kh * s.kw;
  for_each_simd([&](SimdLevel level) {
    char what[160];
    std::snprintf(what, sizeof what, "%s [%s]", name, simd_level_name(level));
    std::vector<float> y(ny, 123.0f);
    cpu::conv2d_forward(s, x.data(), w.data(), with_bias ? b.data() : nullptr, y.data());
    std::printf("%s", "");
    if (!all_close(what, y, yref, 1e-4, 2e-6 * terms + 1e-6)) std::printf("  ^ forward\n");
    // Backward twice from random starting dw/db: dx is written, dw/db accumulate (+=).
    std::vector<float> dw0 = random_vec(nw, seed + 4), db0 = random_vec(s.K, seed + 5);
    std::vector<float> dx(nx, 77.0f), dw = dw0, db = db0;
    cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), with_bias ? db.data() : nullptr);
    std::vector<double> gw_acc = gw, gb_acc = gb;
    for (size_t k = 0; k < iw.size(); ++k) gw_acc[k] += dw0[iw[k]];
    for (size_t k = 0; k < ib.size(); ++k) gb_acc[k] += db0[ib[k]];
    if (!all_close(what, pick(dx, ix), gx, 1e-3, 1e-4)) std::printf("  ^ dx\n");
    if (!all_close(what, pick(dw, iw), gw_acc, 1e-3, 1e-4)) std::printf("  ^ dw (+=)\n");
    if (with_bias && !all_close(what, pick(db, ib), gb_acc, 1e-3, 1e-4)) std::printf("  ^ db (+=)\n");
    // dx only / dw only (nullptr skips the other)
    std::vector<float> dx2(nx, -5.0f);
    cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), dx2.data(), nullptr, nullptr);
    if (!all_close(what, dx2, dx, 1e-5, 1e-6)) std::printf("  ^ dx alone\n");
    std::vector<float> dw2 = dw0;
    cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), nullptr, dw2.data(), nullptr);
    if (!all_close(what, dw2, dw, 1e-5, 1e-6)) std::printf("  ^ dw alone\n");
  });
}

}  // namespace

NASNET_TEST(kernels_conv_pointwise_and_im2col) {
  check_conv("1x1 pointwise", make(3, 5, 6, 7, 4, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1), true, 100);
  check_conv("1x1 pointwise N=1", make(1, 16, 5, 5, 24, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1), false, 110);
  check_conv("1x1 stride 2", make(2, 4, 9, 9, 3, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1), true, 120);
  // The strided pointwise path (conv_strided.cc): odd and even H/W, batch 1 and batch above the thread
  // count, C and K not multiples of 16, strides (2, 1) and 3.
  check_conv("1x1 s2 odd 9x11 N=1 C17 K5", make(1, 17, 9, 11, 5, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1), true, 121);
  check_conv("1x1 s2 even 8x10 N=5 C18 K7", make(5, 18, 8, 10, 7, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1), false, 122);
  check_conv("1x1 s(2,1) 7x6 N=3 C6 K4", make(3, 6, 7, 6, 4, 1, 1, 2, 1, 0, 0, 0, 0, 1, 1, 1), true, 123);
  check_conv("1x1 s3 10x11 N=2 C5 K4", make(2, 5, 10, 11, 4, 1, 1, 3, 3, 0, 0, 0, 0, 1, 1, 1), false, 124);
  // Rows wide enough for the vector stride-2 gather's whole blocks and its masked tail (20, 32, 34
  // outputs per row); pads (the forward takes them, the backward goes the general way).
  check_conv("1x1 s2 wide 6x40", make(2, 3, 6, 40, 4, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1), true, 125);
  check_conv("1x1 s2 wide 3x64", make(1, 3, 3, 64, 4, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1), false, 126);
  check_conv("1x1 s2 wide 5x67", make(2, 2, 5, 67, 3, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1), true, 127);
  check_conv("1x1 s2 pads (1,2,1,0)", make(2, 3, 7, 9, 4, 1, 1, 2, 2, 1, 2, 1, 0, 1, 1, 1), true, 128);
  check_conv("3x3 s1 p1", make(2, 4, 9, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1), true, 130);
  check_conv("3x3 s1 p1 N=1", make(1, 3, 8, 8, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1), true, 135);
  check_conv("3x3 s2 p1 odd", make(3, 3, 9, 8, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1), true, 140);
  check_conv("3x3 s2 asym pads (0,0,1,1)", make(2, 3, 8, 8, 4, 3, 3, 2, 2, 0, 0, 1, 1, 1, 1, 1), false, 150);
  check_conv("5x5 dil 2 pad 4", make(2, 3, 11, 10, 4, 5, 5, 1, 1, 4, 4, 4, 4, 2, 2, 1), true, 160);
  check_conv("1x7 pad (0,3)", make(2, 4, 8, 9, 3, 1, 7, 1, 1, 0, 3, 0, 3, 1, 1, 1), true, 170);
  check_conv("7x1 pad (3,0) s2", make(2, 4, 9, 8, 3, 7, 1, 2, 2, 3, 0, 3, 0, 1, 1, 1), true, 180);
  // OH*OW >= 512: the weight gradient takes the direct A·Bᵀ GEMM path
  check_conv("3x3 s1 p1 24x24", make(2, 2, 24, 24, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1), true, 185);
  check_conv("3x3 groups 2", make(2, 4, 7, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2), true, 190);
  check_conv("1x1 groups 3", make(2, 6, 5, 4, 9, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 3), true, 195);
}

NASNET_TEST(kernels_conv_depthwise) {
  check_conv("dw 3x3 s1 p1", make(3, 5, 8, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 5), true, 200);
  check_conv("dw 3x3 s1 p1 N=1", make(1, 4, 7, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4), false, 205);
  check_conv("dw 5x5 s2 p2", make(2, 4, 11, 10, 4, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 4), true, 210);
  check_conv("dw 3x3 dil 2 p2", make(2, 3, 9, 9, 3, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 3), true, 220);
  check_conv("dw 7x7 s1 p3", make(2, 3, 9, 12, 3, 7, 7, 1, 1, 3, 3, 3, 3, 1, 1, 3), false, 230);
  check_conv("dw 3x3 s2 asym (0,0,1,1)", make(2, 3, 8, 10, 3, 3, 3, 2, 2, 0, 0, 1, 1, 1, 1, 3), true, 240);
  check_conv("dw 3x3 s2 dil 2 p2 odd W", make(2, 3, 11, 13, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 3), true, 245);
  check_conv("dw 3x3 s3 (generic stride)", make(2, 2, 10, 11, 2, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 2), true, 247);
  check_conv("dw 7x1 s2 wide", make(2, 2, 9, 37, 2, 7, 1, 2, 2, 3, 0, 3, 0, 1, 1, 2), true, 248);
  check_conv("dw 1x7 / wide rows", make(2, 2, 3, 40, 2, 1, 7, 1, 1, 0, 3, 0, 3, 1, 1, 2), true, 250);
  // Planes 8 and 4 wide (AVX-512: the weight gradient's packed direct path, two or four rows a
  // vector): whole and partial last units (5 and 14 rows), uneven top and bottom pads, dilation 2.
  check_conv("dw 3x3 8x8 packed", make(3, 4, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4), true, 251);
  check_conv("dw 5x5 5x8 packed, partial unit", make(2, 3, 5, 8, 3, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 3), true, 252);
  check_conv("dw 5x5 8x8 pads (1,2,3,2)", make(2, 3, 8, 8, 3, 5, 5, 1, 1, 1, 2, 3, 2, 1, 1, 3), true, 253);
  check_conv("dw 7x7 8x8 packed", make(2, 2, 8, 8, 2, 7, 7, 1, 1, 3, 3, 3, 3, 1, 1, 2), false, 254);
  check_conv("dw 3x3 dil 2 8x8 packed", make(2, 3, 8, 8, 3, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 3), true, 255);
  check_conv("dw 3x3 14x4 packed", make(2, 3, 14, 4, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3), true, 256);
  check_conv("dw 5x5 4x4 packed", make(3, 2, 4, 4, 2, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 2), true, 257);
}

NASNET_TEST(kernels_conv_depthwise_stride2_reduction_shapes) {
  // NASNet's reduction-cell depthwise convolutions (TF SAME pads, stride 2, square 3×3 / 5×5 / 7×7:
  // the forward's window sizes as constants) against fp64 at every SIMD level, on planes whose
  // de-interleaved copy takes 32-column steps (32, 34), 16-column steps (16, 20), both (48), or
  // neither (8, 11), so 16-, 8- and partially filled output chunks.
  for_each_simd([](SimdLevel level) {
    uint32_t seed = 600;
    for (int k : {3, 5, 7})
      for (int H : {8, 11, 16, 20, 32, 34, 48}) {
        const int OH = (H + 1) / 2, pad = std::max(0, (OH - 1) * 2 + k - H);
        char name[96];
        std::snprintf(name, sizeof name, "%s dw %dx%d s2 %dx%d", simd_level_name(level), k, k, H, H);
        check_conv(name, make(2, 3, H, H, 3, k, k, 2, 2, pad / 2, pad / 2, pad - pad / 2, pad - pad / 2, 1, 1, 3),
                   false, seed++);
      }
  });
}

NASNET_TEST(kernels_conv_levels_agree_at_nasnet_shape) {
  // A NASNet-like shape (all levels against each other, the portable path as the anchor).
  ConvShape s = make(4, 16, 16, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
  ConvShape d = make(4, 16, 16, 16, 16, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 16);
  for (const ConvShape& sh : {s, d}) {
    const size_t nx = static_cast<size_t>(sh.N) * sh.C * sh.H * sh.W, ny = static_cast<size_t>(sh.N) * sh.K * sh.OH * sh.OW;
    const size_t nw = static_cast<size_t>(sh.K) * (sh.C / sh.groups) * sh.kh * sh.kw;
    std::vector<float> x = random_vec(nx, 1), w = random_vec(nw, 2), dy = random_vec(ny, 3);
    std::vector<float> y0, dx0, dw0;
    for_each_simd([&](SimdLevel level) {
      std::vector<float> y(ny), dx(nx), dw(nw, 0.0f);
      cpu::conv2d_forward(sh, x.data(), w.data(), nullptr, y.data());
      cpu::conv2d_backward(sh, x.data(), w.data(), dy.data(), dx.data(), dw.data(), nullptr);
      if (level == SimdLevel::kPortable) {
        y0 = y, dx0 = dx, dw0 = dw;
        return;
      }
      all_close(simd_level_name(level), y, y0, 1e-4, 1e-4);
      all_close(simd_level_name(level), dx, dx0, 1e-4, 1e-4);
      all_close(simd_level_name(level), dw, dw0, 1e-4, 1e-3);
    });
  }
}

// Fused inference at batch 1 takes one of two paths by the image's work: on the calling thread (small
// units) or split over the threads (ReLU and depthwise by channels, the GEMM by column panels); with
// more images than threads, whole images per thread. All three give the same floats (each output is
// the same sum in the same order), at every SIMD level, and match an fp64 reference.
NASNET_TEST(kernels_fused_eval_batch1_paths_match_whole_images) {
  struct Case {
    int C, K, H, k, stride;  // k = 0: no depthwise
  };
  // 2 images of each: 8→16 at 9×9 with a 3×3 (serial at batch 1), 192→32 at 32×32 pointwise
  // (12.6 MFLOP: split), 96→96 at 16×16 with a 5×5 stride 2 (serial), 128→128 at 16×16 with a 3×3 (split).
  for (const Case& c : {Case{8, 16, 9, 3, 1}, Case{192, 32, 32, 0, 1}, Case{96, 96, 16, 5, 2}, Case{128, 128, 16, 3, 1}}) {
    cpu::FusedConvBnShape s{};
    s.N = 2, s.C = c.C, s.K = c.K, s.H = s.W = c.H, s.relu_in = true, s.has_depthwise = c.k > 0;
    s.OH = s.OW = (c.H + c.stride - 1) / c.stride;
    if (s.has_depthwise) {
      const int p = std::max(0, (s.OH - 1) * c.stride + c.k - c.H);
      s.dw = ConvShape{2, c.C, c.H, c.H, c.C, c.k, c.k, c.stride, c.stride, p / 2, p / 2, p - p / 2, p - p / 2,
                       1, 1, c.C, s.OH, s.OW};
    }
    const size_t in = static_cast<size_t>(c.C) * c.H * c.H, out = static_cast<size_t>(c.K) * s.OH * s.OW;
    const std::vector<float> x = random_vec(2 * in, 31), wdw = random_vec(static_cast<size_t>(c.C) * 25, 32),
                             wpw = random_vec(static_cast<size_t>(c.K) * c.C, 33), gamma = random_vec(c.K, 34, 0.5f, 1.5f),
                             beta = random_vec(c.K, 35), mean = random_vec(c.K, 36), var = random_vec(c.K, 37, 0.5f, 2.0f);
    std::vector<float> whole;
    for_each_simd([&](SimdLevel level) {
      std::vector<float> y2(2 * out), y1(2 * out);
      cpu::fused_conv_bn_forward_eval(s, x.data(), wdw.data(), wpw.data(), gamma.data(), beta.data(), mean.data(),
                                      var.data(), 1e-3f, y2.data());
      cpu::FusedConvBnShape one = s;
      one.N = 1;
      one.dw.N = 1;
      for (int n = 0; n < 2; ++n)
        cpu::fused_conv_bn_forward_eval(one, x.data() + n * in, wdw.data(), wpw.data(), gamma.data(), beta.data(),
                                        mean.data(), var.data(), 1e-3f, y1.data() + n * out);
      EXPECT_TRUE(y1 == y2);
      if (level == SimdLevel::kPortable) whole = y2;
      // The GEMM's micro-kernels differ by level (sums in another order), so levels agree to rounding.
      all_close("fused eval across levels", y2, to_double(whole), 1e-4, 1e-5);
    });
    if (c.k == 0) {  // fp64 reference of relu → pointwise → BN (running statistics)
      std::vector<double> ref(2 * out);
      const size_t HW = static_cast<size_t>(c.H) * c.H;
      for (int n = 0; n < 2; ++n)
        for (int k = 0; k < c.K; ++k) {
          const double a = gamma[k] / std::sqrt(static_cast<double>(var[k]) + 1e-3);
          for (size_t q = 0; q < HW; ++q) {
            double z = 0;
            for (int ch = 0; ch < c.C; ++ch) z += wpw[k * c.C + ch] * std::max(0.0f, x[n * in + ch * HW + q]);
            ref[n * out + k * HW + q] = (z - mean[k]) * a + beta[k];
          }
        }
      all_close("fused eval vs fp64", whole, ref, 1e-4, 1e-5);
    }
  }
}

// Image-parallel inference (plan/lanes.cc) calls the kernels on each thread of a team, with their
// own images: a kernel must then keep its work on the calling thread. The fused inference kernel's
// whole-image loop was an orphaned `omp for`, which inside such a team shared the caller's images out
// over the enclosing team (each thread computed some images of each batch and left the rest
// unwritten). Two threads, each with its own batch of 3 (the whole-images path), against one call alone.
NASNET_TEST(kernels_fused_eval_on_each_thread_of_a_team) {
  cpu::FusedConvBnShape s{};
  s.N = 3, s.C = 16, s.K = 24, s.H = s.W = 8, s.OH = s.OW = 8, s.relu_in = true, s.has_depthwise = true;
  s.dw = ConvShape{3, 16, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 16, 8, 8};
  const size_t in = static_cast<size_t>(s.N) * s.C * 64, out = static_cast<size_t>(s.N) * s.K * 64;
  const std::vector<float> wdw = random_vec(16 * 9, 41), wpw = random_vec(24 * 16, 42),
                           gamma = random_vec(24, 43, 0.5f, 1.5f), beta = random_vec(24, 44), mean = random_vec(24, 45),
                           var = random_vec(24, 46, 0.5f, 2.0f);
  const std::vector<float> x[2] = {random_vec(in, 47), random_vec(in, 48)};
  std::vector<float> alone[2], team[2];
  for (int t = 0; t < 2; ++t) {
    alone[t].assign(out, 0.0f);
    team[t].assign(out, std::numeric_limits<float>::quiet_NaN());
    cpu::fused_conv_bn_forward_eval(s, x[t].data(), wdw.data(), wpw.data(), gamma.data(), beta.data(), mean.data(),
                                    var.data(), 1e-3f, alone[t].data());
  }
  int members = 0;
  cpu::parallel_team(2, [&](int t, int size) {
    if (t == 0) members = size;
    cpu::fused_conv_bn_forward_eval(s, x[t].data(), wdw.data(), wpw.data(), gamma.data(), beta.data(), mean.data(),
                                    var.data(), 1e-3f, team[t].data());
  });
  EXPECT_TRUE(members == 2);
  EXPECT_TRUE(team[0] == alone[0]);
  EXPECT_TRUE(team[1] == alone[1]);
}

// The strided pointwise path whole, at every thread count that partitions the batch's output rows
// differently (1: the calling thread; 2; 3: blocks that split images between threads) and every SIMD
// level: y, dx (every element, so each one must be written: dx starts as garbage) and dw (+=)
// against an fp64 reference. The shapes are large enough to split over threads (over kSplitFlops)
// and to take several blocks per thread, one of them at batch 1 (a single image split by rows), one
// with blocks that span images. dx[n, c, ih, iw] = sum over k of w[k, c] · dy[n, k, ih/sh, iw/sw]
// at sampled positions, 0 elsewhere; dw[k, c] = sum over n, oh, ow of dy · x at the sampled position.
// Tolerances: as check_conv's forward (fp32 sums of C, K or N·OH·OW products against fp64).
NASNET_TEST(kernels_conv_strided_pointwise_threads) {
  struct Case {
    const char* name;
    ConvShape s;
  };
  const Case cases[] = {
      {"N=1 C72 63x63 K33 s2", make(1, 72, 63, 63, 33, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1)},
      {"N=5 C40 32x32 K40 s2", make(5, 40, 32, 32, 40, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1)},
      {"N=7 C48 16x16 K24 s2", make(7, 48, 16, 16, 24, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1)},
      {"N=3 C19 9x9 K3 s2 (serial)", make(3, 19, 9, 9, 3, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1)},
  };
  const int threads0 = omp_get_max_threads();
  for (const Case& c : cases) {
    const ConvShape& s = c.s;
    const size_t HW = static_cast<size_t>(s.H) * s.W, OHW = static_cast<size_t>(s.OH) * s.OW;
    const size_t nx = s.N * s.C * HW, nw = static_cast<size_t>(s.K) * s.C, ny = s.N * s.K * OHW;
    const std::vector<float> x = random_vec(nx, 300), w = random_vec(nw, 301), b = random_vec(s.K, 302),
                             dy = random_vec(ny, 303), dw0 = random_vec(nw, 304);
    std::vector<double> yref, dxref(nx, 0.0), dwref(dw0.begin(), dw0.end());
    const std::vector<double> bd = to_double(b);
    ref_conv(s, to_double(x), to_double(w), &bd, yref);
    for (int n = 0; n < s.N; ++n)
      for (int k = 0; k < s.K; ++k)
        for (int oh = 0; oh < s.OH; ++oh)
          for (int ow = 0; ow < s.OW; ++ow) {
            const double g = dy[((static_cast<size_t>(n) * s.K + k) * s.OH + oh) * s.OW + ow];
            for (int ch = 0; ch < s.C; ++ch) {
              const size_t at = ((static_cast<size_t>(n) * s.C + ch) * s.H + oh * s.sh) * s.W + ow * s.sw;
              dxref[at] += w[static_cast<size_t>(k) * s.C + ch] * g;
              dwref[static_cast<size_t>(k) * s.C + ch] += x[at] * g;
            }
          }
    for (int threads : {1, 2, 3}) {
      omp_set_num_threads(threads);
      for_each_simd([&](SimdLevel level) {
        char what[160];
        std::snprintf(what, sizeof what, "%s, %d threads [%s]", c.name, threads, simd_level_name(level));
        std::vector<float> y(ny, 123.0f), dx(nx, 77.0f), dw = dw0;
        cpu::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
        if (!all_close(what, y, yref, 1e-4, 2e-6 * s.C + 1e-6)) std::printf("  ^ forward\n");
        cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), nullptr);
        if (!all_close(what, dx, dxref, 1e-4, 2e-6 * s.K + 1e-6)) std::printf("  ^ dx\n");
        if (!all_close(what, dw, dwref, 1e-4, 2e-6 * s.N * OHW + 1e-6)) std::printf("  ^ dw (+=)\n");
      });
    }
    omp_set_num_threads(threads0);
  }
}

NASNET_TEST(kernels_depthwise_plane_relu_in_matches_relu_then_plane) {
  // depthwise_forward_plane with relu_in (the ReLU taken as the plane is read: masked loads on the
  // direct path, the padded copy otherwise) against relu_value applied to a copy first: the same
  // floats, NaN where NaN, at every SIMD level. Shapes cover the direct path (3x3, 5x5, 7x7,
  // dilation 2, planes 8 and 4 wide packed into one vector), stride 2 (de-interleaved copy) and a
  // generic stride; the input holds negatives, -0 and NaN.
  const ConvShape shapes[] = {
      make(1, 1, 11, 37, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1), make(1, 1, 16, 16, 1, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1),
      make(1, 1, 9, 9, 1, 7, 7, 1, 1, 3, 3, 3, 3, 1, 1, 1),   make(1, 1, 12, 12, 1, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1),
      make(1, 1, 8, 8, 1, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1),   make(1, 1, 4, 4, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),
      make(1, 1, 33, 34, 1, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 1), make(1, 1, 10, 11, 1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1)};
  uint32_t seed = 260;
  for (const ConvShape& s : shapes) {
    std::vector<float> x = random_vec(static_cast<size_t>(s.H) * s.W, seed++);
    const std::vector<float> w = random_vec(static_cast<size_t>(s.kh) * s.kw, seed++);
    for (size_t i = 0; i < x.size(); i += 7) x[i] = -0.0f;
    x[x.size() / 2] = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> relu_x = x;
    for (float& v : relu_x) v = relu_value(v);
    const size_t out = static_cast<size_t>(s.OH) * s.OW;
    for_each_simd([&](SimdLevel level) {
      cpu::Scratch scratch;
      float* pad = scratch.get(cpu::depthwise_plane_scratch_floats(s));
      std::vector<float> want(out), got(out);
      cpu::depthwise_forward_plane(s, relu_x.data(), w.data(), 0.0f, want.data(), pad, false);
      cpu::depthwise_forward_plane(s, x.data(), w.data(), 0.0f, got.data(), pad, true);
      char what[80];
      std::snprintf(what, sizeof what, "%s %dx%d s%d d%d %dx%d: y", simd_level_name(level), s.kh, s.kw, s.sh, s.dh,
                    s.H, s.W);
      same_floats(what, got, want);
    });
  }
}

NASNET_TEST(kernels_depthwise_planes_equal_plane_by_plane) {
  // depthwise_forward_planes (per-call set-up shared by the planes: column masks, the padded
  // buffer zeroed once) against depthwise_forward_plane on each plane with a fresh scratch: the same
  // floats at every SIMD level, with and without the input's ReLU, planes and outputs strided apart
  // (gaps left alone), a bias per plane or none. Shapes: the direct path (packed 8- and 4-wide
  // planes, 16-wide chunks, more chunks than are hoisted), stride 2 and a generic stride (the padded
  // copy: a plane's interior must not leak into the next one's borders).
  const ConvShape shapes[] = {
      make(1, 5, 8, 8, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 5),     make(1, 5, 4, 4, 5, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 5),
      make(1, 5, 16, 16, 5, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 5),   make(1, 3, 9, 90, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3),
      make(1, 4, 16, 16, 4, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 4),   make(1, 4, 15, 13, 4, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 4),
      make(1, 3, 11, 12, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3),   make(1, 4, 12, 12, 4, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 4)};
  uint32_t seed = 1300;
  for (const ConvShape& s : shapes) {
    const size_t HW = static_cast<size_t>(s.H) * s.W, OHW = static_cast<size_t>(s.OH) * s.OW;
    const size_t xs = HW + 3, ys = OHW + 5;  // strided planes: gaps between them
    std::vector<float> x = random_vec(xs * s.C, seed++);
    for (size_t i = 0; i < x.size(); i += 5) x[i] = -std::fabs(x[i]);
    const std::vector<float> w = random_vec(static_cast<size_t>(s.C) * s.kh * s.kw, seed++),
                             b = random_vec(static_cast<size_t>(s.C), seed++);
    for_each_simd([&](SimdLevel level) {
      for (bool relu : {false, true})
        for (bool bias : {false, true}) {
          std::vector<float> want(ys * s.C, 7.0f), got(ys * s.C, 7.0f);
          for (int c = 0; c < s.C; ++c) {
            cpu::Scratch fresh;
            cpu::depthwise_forward_plane(s, x.data() + c * xs, w.data() + static_cast<size_t>(c) * s.kh * s.kw,
                                         bias ? b[c] : 0.0f, want.data() + c * ys,
                                         fresh.get(cpu::depthwise_plane_scratch_floats(s)), relu);
          }
          cpu::Scratch scratch;
          cpu::depthwise_forward_planes(s, s.C, x.data(), xs, w.data(), bias ? b.data() : nullptr, got.data(), ys,
                                        scratch.get(cpu::depthwise_plane_scratch_floats(s)), relu);
          char what[96];
          std::snprintf(what, sizeof what, "%s %dx%d s%d %dx%d relu %d bias %d", simd_level_name(level), s.kh, s.kw,
                        s.sh, s.H, s.W, relu, bias);
          same_floats(what, got, want);
        }
    });
  }
}

NASNET_TEST(kernels_depthwise_direct_path_equals_padded_path_bitwise) {
  // The AVX-512 direct correlation (masked loads, blocks of output rows, kernel rows in groups) against
  // the AVX2 padded-copy path: every output is the bias, then its taps row by row, each an FMA, on
  // both paths, so forward planes and stride-1 dx are the same floats. Planes 4 and 8 wide (rows
  // packed into one vector), 16 and 32 (NASNet's CIFAR stacks), odd sizes (partial chunks and
  // blocks), every square kernel and dilation the direct path takes; the same padding (its blocks'
  // rows outside the plane known at compile time) and uneven top and bottom padding (row masks at
  // run time).
  if (simd_level() < SimdLevel::kAvx512) {
    std::printf("  (no AVX-512 here: the direct path is not compiled in)\n");
    return;
  }
  struct Case {
    int k, d, H, W, top = -1;  // top padding (the rest at the bottom), or -1: the same padding
  };
  const Case cases[] = {{3, 1, 4, 4},      {3, 1, 8, 8},      {3, 1, 16, 16},   {3, 1, 32, 32},   {3, 2, 16, 16},
                        {3, 1, 11, 37},    {5, 1, 4, 4},      {5, 1, 8, 8},     {5, 1, 16, 16},   {5, 1, 32, 32},
                        {5, 2, 8, 8},      {5, 2, 13, 19},    {5, 1, 23, 9},    {7, 1, 4, 4},     {7, 1, 8, 8},
                        {7, 1, 16, 16},    {7, 1, 32, 32},    {7, 1, 19, 21},   {3, 1, 16, 16, 0}, {3, 1, 8, 8, 2},
                        {5, 1, 8, 8, 1},   {5, 1, 32, 32, 3}, {7, 1, 4, 4, 0},  {5, 2, 16, 16, 1}};
  uint32_t seed = 900;
  for (const Case& c : cases) {
    const int p = c.d * (c.k - 1) / 2, top = c.top < 0 ? p : c.top, bottom = 2 * p - top;
    const ConvShape s = make(2, 3, c.H, c.W, 3, c.k, c.k, 1, 1, top, p, bottom, p, c.d, c.d, 3);
    const size_t nx = static_cast<size_t>(s.N) * s.C * s.H * s.W, ny = static_cast<size_t>(s.N) * s.K * s.OH * s.OW;
    const std::vector<float> x = random_vec(nx, seed++), w = random_vec(static_cast<size_t>(s.C) * c.k * c.k, seed++),
                             b = random_vec(static_cast<size_t>(s.C), seed++), dy = random_vec(ny, seed++);
    std::vector<float> y[2], dx[2];
    for (int level : {1, 2}) {
      cpu::set_simd_override(level);
      std::vector<float> dw(w.size(), 0.0f);
      y[level - 1].assign(ny, 0.0f);
      dx[level - 1].assign(nx, 0.0f);
      cpu::conv2d_forward(s, x.data(), w.data(), b.data(), y[level - 1].data());
      cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), dx[level - 1].data(), dw.data(), nullptr);
    }
    cpu::set_simd_override(-1);
    char what[2][64];
    std::snprintf(what[0], sizeof what[0], "%dx%d d%d %dx%d forward", c.k, c.k, c.d, c.H, c.W);
    std::snprintf(what[1], sizeof what[1], "%dx%d d%d %dx%d dx", c.k, c.k, c.d, c.H, c.W);
    same_floats(what[0], y[1], y[0]);
    same_floats(what[1], dx[1], dx[0]);
  }
}

// ConvShape::relu_in (an inference plan's Relu absorbed by the strided 1×1 convolutions reading it):
// the forward equals the same forward of relu_value(x) (a NaN stays NaN), bit for bit, at thread counts that split the
// rows differently and with pads (negative ones: a shifted sample). The CPU backend refuses it for
// any other shape and for the backward, naming why.
NASNET_TEST(kernels_conv_strided_pointwise_relu_in) {
  const ConvShape shapes[] = {
      make(1, 72, 63, 63, 33, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1),
      make(5, 18, 8, 10, 7, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1),
      make(2, 3, 7, 9, 4, 1, 1, 2, 2, 1, 2, 1, 0, 1, 1, 1),
      make(3, 6, 8, 8, 5, 1, 1, 2, 2, -1, -1, 1, 1, 1, 1, 1),
  };
  const int threads0 = omp_get_max_threads();
  for (ConvShape s : shapes) {
    const size_t nx = static_cast<size_t>(s.N) * s.C * s.H * s.W, ny = static_cast<size_t>(s.N) * s.K * s.OH * s.OW;
    const std::vector<float> x0 = random_vec(nx, 500), w = random_vec(static_cast<size_t>(s.K) * s.C, 501),
                             b = random_vec(s.K, 502);
    std::vector<float> x(x0);
    x[0] = -0.0f;  // a sampled position of image 0, channel 0 (the unpadded shapes)
    x[nx / 2] = std::numeric_limits<float>::quiet_NaN();  // NaN stays NaN through the ReLU
    std::vector<float> rx(x);
    for (float& v : rx) v = relu_value(v);
    for (int threads : {1, 2, 3}) {
      omp_set_num_threads(threads);
      std::vector<float> want(ny, -1.0f), got(ny, -2.0f);
      s.relu_in = false;
      cpu::conv2d_forward(s, rx.data(), w.data(), b.data(), want.data());
      s.relu_in = true;
      cpu::conv2d_forward(s, x.data(), w.data(), b.data(), got.data());
      EXPECT_TRUE(std::memcmp(got.data(), want.data(), ny * sizeof(float)) == 0);  // NaNs too, bit for bit
    }
  }
  omp_set_num_threads(threads0);
  auto backend = plan::CpuBackend();
  ConvShape dense = make(1, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
  dense.relu_in = true;
  std::vector<float> buf(1024, 0.0f);
  Status st = backend->ConvForward(dense, buf.data(), buf.data(), nullptr, buf.data() + 512);
  EXPECT_TRUE(!st.ok() && st.message().find("strided 1x1") != std::string::npos);
  ConvShape strided = make(1, 3, 4, 4, 2, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1);
  strided.relu_in = true;
  st = backend->ConvBackward(strided, buf.data(), buf.data(), buf.data(), buf.data(), buf.data(), nullptr);
  EXPECT_TRUE(!st.ok() && st.message().find("no backward") != std::string::npos);
}
