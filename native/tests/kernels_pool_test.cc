// Max/avg/global-average pooling against fp64 references. Avg pooling is linear: its backward is
// checked against central differences of L = sum(dy * y). Max pooling is piecewise linear with
// possible near-ties, so its backward is checked against the reference scatter of dy to the fp64
// argmax (and the saved argmax itself). Tolerances: rtol 1e-5 / atol 1e-6 (no long sums).
#include <algorithm>
#include <cstring>
#include <limits>

#include "cpu/kernels.h"
#include "tests/kernels_util.h"

using namespace nasnet;
using namespace nasnet::test;
using nasnet::cpu::PoolShape;

namespace {

// TensorFlow "same" padding: OH = ceil(H / stride).
PoolShape same(int N, int C, int H, int W, int k, int stride, bool include_pad) {
  PoolShape s{};
  s.N = N, s.C = C, s.H = H, s.W = W, s.kh = k, s.kw = k, s.sh = stride, s.sw = stride;
  s.OH = (H + stride - 1) / stride, s.OW = (W + stride - 1) / stride;
  int th = std::max((s.OH - 1) * stride + k - H, 0), tw = std::max((s.OW - 1) * stride + k - W, 0);
  s.pt = th / 2, s.pb = th - th / 2, s.pl = tw / 2, s.pr = tw - tw / 2;
  s.count_include_pad = include_pad;
  return s;
}

void ref_pool(const PoolShape& s, bool is_max, const std::vector<double>& x, std::vector<double>& y,
              std::vector<int>* arg) {
  y.assign(static_cast<size_t>(s.N) * s.C * s.OH * s.OW, 0.0);
  if (arg) arg->assign(y.size(), -1);
  for (int p = 0; p < s.N * s.C; ++p)
    for (int oh = 0; oh < s.OH; ++oh)
      for (int ow = 0; ow < s.OW; ++ow) {
        double best = -std::numeric_limits<double>::infinity(), sum = 0;
        int at = -1, cnt = 0, cnt_pad = 0;
        for (int i = 0; i < s.kh; ++i)
          for (int j = 0; j < s.kw; ++j) {
            int h = oh * s.sh - s.pt + i, w = ow * s.sw - s.pl + j;
            if (h < s.H + s.pb && w < s.W + s.pr) ++cnt_pad;
            if (h < 0 || h >= s.H || w < 0 || w >= s.W) continue;
            double v = x[static_cast<size_t>(p) * s.H * s.W + h * s.W + w];
            ++cnt;
            sum += v;
            if (v > best) best = v, at = h * s.W + w;
          }
        size_t o = (static_cast<size_t>(p) * s.OH + oh) * s.OW + ow;
        y[o] = is_max ? best : sum / (s.count_include_pad ? cnt_pad : cnt);
        if (arg) (*arg)[o] = at;
      }
}

void check_pool(const PoolShape& s, uint32_t seed) {
  const size_t nx = static_cast<size_t>(s.N) * s.C * s.H * s.W, ny = static_cast<size_t>(s.N) * s.C * s.OH * s.OW;
  std::vector<float> x = random_vec(nx, seed), dy = random_vec(ny, seed + 1);
  std::vector<double> xd = to_double(x);
  char what[128];
  std::snprintf(what, sizeof what, "pool %dx%d s%d H=%d W=%d pad(%d,%d,%d,%d) incl=%d", s.kh, s.kw, s.sh, s.H, s.W, s.pt,
                s.pl, s.pb, s.pr, s.count_include_pad);
  // max
  std::vector<double> yref;
  std::vector<int> aref;
  ref_pool(s, true, xd, yref, &aref);
  std::vector<float> y(ny);
  std::vector<int32_t> arg(ny);
  cpu::maxpool_forward(s, x.data(), y.data(), arg.data());
  all_close(what, y, yref, 1e-6, 1e-7);
  all_close(what, arg, aref, 0, 0);
  std::vector<double> dxref(nx, 0.0);
  for (size_t o = 0; o < ny; ++o) dxref[(o / (s.OH * s.OW)) * s.H * s.W + aref[o]] += dy[o];
  std::vector<float> dx(nx, 9.0f);
  cpu::maxpool_backward(s, arg.data(), dy.data(), dx.data());
  all_close(what, dx, dxref, 1e-5, 1e-6);
  std::vector<float> y2(ny);
  cpu::maxpool_forward(s, x.data(), y2.data(), nullptr);
  all_close(what, y2, y, 0, 0);
  // avg
  ref_pool(s, false, xd, yref, nullptr);
  cpu::avgpool_forward(s, x.data(), y.data());
  all_close(what, y, yref, 1e-5, 1e-6);
  auto objective = [&]() {
    std::vector<double> yy;
    ref_pool(s, false, xd, yy, nullptr);
    double L = 0;
    for (size_t q = 0; q < ny; ++q) L += dy[q] * yy[q];
    return L;
  };
  // Every dx against the reference scatter of dy / divisor (windows from ref_pool's rule), then
  // sampled entries against differences (fewer on the large shapes, which the scatter covers).
  std::vector<double> ones(nx, 1.0), cnt;
  ref_pool(s, false, ones, cnt, nullptr);  // the mean of ones over the real inputs: 1 (or real / padded)
  std::fill(dx.begin(), dx.end(), 9.0f);
  cpu::avgpool_backward(s, dy.data(), dx.data());
  std::fill(dxref.begin(), dxref.end(), 0.0);
  for (int p = 0; p < s.N * s.C; ++p)
    for (int oh = 0; oh < s.OH; ++oh)
      for (int ow = 0; ow < s.OW; ++ow) {
        const size_t o = (static_cast<size_t>(p) * s.OH + oh) * s.OW + ow;
        int real = 0;
        for (int h = std::max(0, oh * s.sh - s.pt); h < std::min(s.H, oh * s.sh - s.pt + s.kh); ++h)
          for (int w = std::max(0, ow * s.sw - s.pl); w < std::min(s.W, ow * s.sw - s.pl + s.kw); ++w) ++real;
        if (real == 0) continue;
        const double divisor = real / cnt[o];  // cnt = real / divisor
        for (int h = std::max(0, oh * s.sh - s.pt); h < std::min(s.H, oh * s.sh - s.pt + s.kh); ++h)
          for (int w = std::max(0, ow * s.sw - s.pl); w < std::min(s.W, ow * s.sw - s.pl + s.kw); ++w)
            dxref[static_cast<size_t>(p) * s.H * s.W + h * s.W + w] += dy[o] / divisor;
      }
  all_close(what, dx, dxref, 1e-5, 1e-6);
  std::vector<size_t> ix = sample_indices(nx, nx > 10000 ? 40 : 300, seed);
  std::vector<double> gx = numeric_grad(xd, ix, objective, 1e-3);
  all_close(what, pick(dx, ix), gx, 1e-4, 1e-6);
}

}  // namespace

NASNET_TEST(kernels_pool_max_avg_same_padding) {
  uint32_t seed = 1;
  for (int k : {3, 5, 7})
    for (int stride : {1, 2})
      for (bool incl : {false, true}) {
        check_pool(same(2, 3, 9, 8, k, stride, incl), seed++);
        check_pool(same(1, 2, 8, 11, k, stride, incl), seed++);
      }
  // NASNet sizes: long interior rows (the vectorized path) beside the border columns
  for (int stride : {1, 2})
    for (bool incl : {false, true}) check_pool(same(2, 3, 16, 33, 3, stride, incl), seed++);
  // Stride 3 (the generic-stride body), and planes enough to split over the threads in forward.
  for (bool incl : {false, true}) check_pool(same(1, 2, 13, 17, 3, 3, incl), seed++);
  for (int stride : {1, 2}) check_pool(same(2, 40, 16, 33, 3, stride, false), seed++);
  // explicit asymmetric pads, non-square window
  PoolShape s{};
  s.N = 2, s.C = 2, s.H = 7, s.W = 9, s.kh = 3, s.kw = 2, s.sh = 2, s.sw = 1, s.pt = 0, s.pl = 1, s.pb = 1, s.pr = 0;
  s.OH = (s.H + s.pt + s.pb - s.kh) / s.sh + 1, s.OW = (s.W + s.pl + s.pr - s.kw) / s.sw + 1;
  s.count_include_pad = true;
  check_pool(s, 99);
}

// PyTorch's padding: k / 2 on every side (pad 1 for NASNet's 3×3), OH = (H + 2 pad - k) / stride + 1.
PoolShape symmetric(int N, int C, int H, int W, int k, int stride, bool include_pad) {
  PoolShape s{};
  s.N = N, s.C = C, s.H = H, s.W = W, s.kh = k, s.kw = k, s.sh = stride, s.sw = stride;
  s.pt = s.pl = s.pb = s.pr = k / 2;
  s.OH = (H + 2 * (k / 2) - k) / stride + 1, s.OW = (W + 2 * (k / 2) - k) / stride + 1;
  s.count_include_pad = include_pad;
  return s;
}

NASNET_TEST(kernels_pool_avg_every_simd_level_odd_even_tiny_planes) {
  // The average pool's row passes at each SIMD level: 3×3 at stride 1 and 2 (the constant-stride
  // bodies), stride 3 (the general body), on odd and even sides down to 1×1 and 2×2 planes (rows
  // shorter than a vector, blocks cut at both ends), TF SAME pads (0/1 on even sides at stride 2)
  // and PyTorch's pad 1 on every side; one batch-1 plane set and one large enough to split over the
  // threads (N*C*H*W >= the parallel threshold, batch 9 > threads).
  for_each_simd([](SimdLevel) {
    uint32_t seed = 500;
    for (int stride : {1, 2, 3})
      for (int H : {1, 2, 3, 8})
        for (int W : {1, 2, 5, 8, 11})
          for (bool incl : {false, true}) {
            check_pool(same(1, 2, H, W, 3, stride, incl), seed++);
            check_pool(symmetric(1, 2, H, W, 3, stride, incl), seed++);
          }
    for (int stride : {1, 2}) {
      check_pool(symmetric(9, 8, 24, 23, 3, stride, false), seed++);
      check_pool(same(9, 8, 23, 24, 3, stride, false), seed++);
    }
    // A stride past the window: input rows and columns no window reads get a zero gradient.
    PoolShape s{};
    s.N = 1, s.C = 3, s.H = 8, s.W = 10, s.kh = 2, s.kw = 2, s.sh = 3, s.sw = 3;
    s.OH = (s.H - s.kh) / s.sh + 1, s.OW = (s.W - s.kw) / s.sw + 1;
    check_pool(s, seed++);
  });
}

NASNET_TEST(kernels_pool_max_ties_pick_the_first_in_window_order) {
  // Constant planes: every window ties, so argmax is its first real position (rows, then columns),
  // on the border and the vectorized interior alike.
  for (int stride : {1, 2}) {
    PoolShape s = same(1, 2, 6, 21, 3, stride, false);
    const size_t nx = static_cast<size_t>(s.N) * s.C * s.H * s.W, ny = static_cast<size_t>(s.N) * s.C * s.OH * s.OW;
    std::vector<float> x(nx, 0.5f), y(ny);
    std::vector<int32_t> arg(ny);
    cpu::maxpool_forward(s, x.data(), y.data(), arg.data());
    for (int oh = 0; oh < s.OH; ++oh)
      for (int ow = 0; ow < s.OW; ++ow) {
        const int h0 = std::max(0, oh * s.sh - s.pt), w0 = std::max(0, ow * s.sw - s.pl);
        EXPECT_TRUE(arg[oh * s.OW + ow] == h0 * s.W + w0);
        EXPECT_TRUE(y[oh * s.OW + ow] == 0.5f);
      }
  }
}

NASNET_TEST(kernels_pool_max_inference_is_the_argmax_element_bit_for_bit) {
  // Inference max pooling (no argmax) at every SIMD level, 3×3 stride 2 (AVX-512's separable path)
  // and stride 1, on planes of ties that only bits tell apart: -0 and +0, NaNs with distinct
  // payloads, -inf, 1. Each output must be the very element the argmax path picks (the first
  // maximum in window order, or the last NaN), bit for bit.
  auto bits = [](float v) {
    uint32_t u;
    std::memcpy(&u, &v, sizeof u);
    return u;
  };
  for_each_simd([&](SimdLevel) {
    uint32_t seed = 900;
    for (int stride : {2, 1})
      for (int W : {5, 16, 31, 32, 33, 40})
        for (bool tf : {true, false}) {
          const PoolShape s = tf ? same(2, 3, 11, W, 3, stride, false) : symmetric(2, 3, 11, W, 3, stride, false);
          const size_t nx = static_cast<size_t>(s.N) * s.C * s.H * s.W, ny = static_cast<size_t>(s.N) * s.C * s.OH * s.OW;
          std::vector<float> x(nx);
          uint32_t r = seed++;
          for (size_t i = 0; i < nx; ++i) {
            r = r * 1664525u + 1013904223u;
            const uint32_t pick = (r >> 24) % 10;
            uint32_t u = pick < 3 ? 0x80000000u : pick < 6 ? 0u : pick < 7 ? 0xff800000u : pick < 9 ? 0x3f800000u : 0x7fc00000u | (r & 0xffff);
            std::memcpy(&x[i], &u, sizeof u);
          }
          std::vector<float> y(ny), y0(ny);
          std::vector<int32_t> arg(ny);
          cpu::maxpool_forward(s, x.data(), y.data(), arg.data());
          cpu::maxpool_forward(s, x.data(), y0.data(), nullptr);
          const size_t HW = static_cast<size_t>(s.H) * s.W, OHW = static_cast<size_t>(s.OH) * s.OW;
          for (size_t o = 0; o < ny; ++o) {
            const float picked = x[(o / OHW) * HW + static_cast<size_t>(arg[o])];
            EXPECT_TRUE(bits(y[o]) == bits(picked));
            EXPECT_TRUE(bits(y0[o]) == bits(picked));
          }
        }
  });
}

NASNET_TEST(kernels_pool_avg3x3_stride1_same_floats_at_every_simd_level) {
  // Average pooling 3×3 at stride 1 takes AVX-512's chunked path (masked row sums, then the real
  // rows and a true division) and the row-buffer passes elsewhere: the same additions in the same
  // order, so the same floats bit for bit at every level, on planes narrower and wider than a
  // vector, pads 0, 1 and 2, with and without counting the padding, and -0, inf and NaN inputs.
  auto bits = [](float v) {
    uint32_t u;
    std::memcpy(&u, &v, sizeof u);
    return u;
  };
  uint32_t seed = 700;
  for (int pad : {1, 0, 2})
    for (int W : {1, 5, 16, 17, 32, 35})
      for (bool incl : {false, true}) {
        PoolShape s{};
        s.N = 2, s.C = 3, s.H = 7, s.W = W, s.kh = s.kw = 3, s.sh = s.sw = 1;
        s.pt = s.pb = s.pl = s.pr = pad;
        s.OH = s.H + 2 * pad - 2, s.OW = W + 2 * pad - 2;
        if (s.OW < 1) continue;
        s.count_include_pad = incl;
        const size_t nx = static_cast<size_t>(s.N) * s.C * s.H * s.W, ny = static_cast<size_t>(s.N) * s.C * s.OH * s.OW;
        std::vector<float> x = random_vec(nx, seed++);
        for (size_t i = 0; i < nx; i += 11) x[i] = -0.0f;
        x[nx / 3] = std::numeric_limits<float>::infinity();
        x[nx / 2] = std::numeric_limits<float>::quiet_NaN();
        std::vector<uint32_t> first;
        for_each_simd([&](SimdLevel) {
          std::vector<float> y(ny);
          cpu::avgpool_forward(s, x.data(), y.data());
          std::vector<uint32_t> b(ny);
          for (size_t o = 0; o < ny; ++o) b[o] = bits(y[o]);
          if (first.empty()) first = b;
          EXPECT_TRUE(b == first);
        });
      }
}

NASNET_TEST(kernels_pool_global_average) {
  const int N = 3, C = 5, HW = 49;
  std::vector<float> x = random_vec(N * C * HW, 1), dy = random_vec(N * C, 2);
  std::vector<float> y(N * C), dx(N * C * HW);
  cpu::global_avgpool_forward(N, C, HW, x.data(), y.data());
  std::vector<double> yref(N * C, 0.0), dxref(N * C * HW);
  for (int p = 0; p < N * C; ++p) {
    for (int q = 0; q < HW; ++q) yref[p] += x[p * HW + q] / static_cast<double>(HW);
    for (int q = 0; q < HW; ++q) dxref[p * HW + q] = dy[p] / static_cast<double>(HW);
  }
  all_close("gap y", y, yref, 1e-5, 1e-6);
  cpu::global_avgpool_backward(N, C, HW, dy.data(), dx.data());
  all_close("gap dx", dx, dxref, 1e-6, 1e-7);
}
