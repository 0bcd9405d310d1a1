// Elementwise ops (exact: tolerance 0 or one rounding), Dropout and DropPath (masks follow the
// documented counter rule exactly and do not depend on the thread count).
#include <omp.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/random.h"
#include "cpu/dispatch.h"
#include "cpu/elementwise.h"
#include "cpu/kernels.h"
#include "tests/kernels_util.h"

using namespace nasnet;
using namespace nasnet::test;

NASNET_TEST(kernels_elementwise_basic) {
  for (size_t n : {size_t(1), size_t(37), size_t(100003)}) {
    std::vector<float> a = random_vec(n, 1), b = random_vec(n, 2), y(n), dx(n);
    cpu::relu_forward(n, a.data(), y.data());
    for (size_t i = 0; i < n; ++i) EXPECT_TRUE(y[i] == (a[i] > 0 ? a[i] : 0.0f));
    cpu::relu_backward(n, y.data(), b.data(), dx.data());
    for (size_t i = 0; i < n; ++i) EXPECT_TRUE(dx[i] == (y[i] > 0 ? b[i] : 0.0f));
    cpu::add_forward(n, a.data(), b.data(), y.data());
    for (size_t i = 0; i < n; ++i) EXPECT_TRUE(y[i] == a[i] + b[i]);
    std::vector<float> acc = b;
    cpu::accumulate(n, a.data(), acc.data());
    for (size_t i = 0; i < n; ++i) EXPECT_TRUE(acc[i] == b[i] + a[i]);
    cpu::scale(n, -0.5f, acc.data());
    for (size_t i = 0; i < n; ++i) EXPECT_TRUE(acc[i] == (b[i] + a[i]) * -0.5f);
    cpu::fill(n, 2.5f, y.data());
    for (size_t i = 0; i < n; ++i) EXPECT_TRUE(y[i] == 2.5f);
    cpu::fill(n, 0.0f, y.data());
    for (size_t i = 0; i < n; ++i) EXPECT_TRUE(y[i] == 0.0f);
  }
}

// The per-thread loops behind relu_forward / add_forward and the fused kernels' passes: the same
// floats at every SIMD level, at lengths that leave remainders of every size, and a NaN stays NaN.
NASNET_TEST(kernels_elementwise_ranges_every_simd_level) {
  for_each_simd([](SimdLevel) {
    for (size_t n : {size_t(1), size_t(15), size_t(16), size_t(17), size_t(63), size_t(1029)}) {
      std::vector<float> a = random_vec(n, 3), b = random_vec(n, 4), y(n, 9.0f);
      a[n / 2] = std::numeric_limits<float>::quiet_NaN();
      cpu::relu_range(n, a.data(), y.data());
      int bad = 0;
      for (size_t i = 0; i < n; ++i) bad += i == n / 2 ? !std::isnan(y[i]) : y[i] != (a[i] > 0 ? a[i] : 0.0f);
      cpu::add_range(n, a.data(), b.data(), y.data());
      for (size_t i = 0; i < n; ++i) bad += i == n / 2 ? !std::isnan(y[i]) : y[i] != a[i] + b[i];
      EXPECT_TRUE(bad == 0);
    }
    // add_row_bias on columns [3, 3 + 21) of 5 rows of 29 (a column range, as the batch-1 split uses).
    const int rows = 5;
    const size_t cols = 21, ld = 29;
    std::vector<float> y = random_vec(rows * ld, 5), bias = random_vec(rows, 6), ref = y;
    cpu::add_row_bias(rows, cols, ld, bias.data(), y.data() + 3);
    for (int r = 0; r < rows; ++r)
      for (size_t q = 3; q < 3 + cols; ++q) ref[r * ld + q] += bias[r];
    EXPECT_TRUE(y == ref);
  });
}

NASNET_TEST(kernels_dropout_masks_scale_and_threads) {
  const size_t n = 200003;
  const float ratio = 0.3f;
  std::vector<float> x = random_vec(n, 3), dy = random_vec(n, 4), y(n), dx(n);
  std::vector<uint8_t> mask(n);
  cpu::dropout_forward(n, ratio, 42, 7, x.data(), y.data(), mask.data());
  size_t kept = 0;
  const float s = 1.0f / (1.0f - ratio);
  int bad = 0;
  for (size_t i = 0; i < n; ++i) {
    bool k = uniform01(42, 7, i) < 1.0f - ratio;
    kept += k;
    if (mask[i] != (k ? 1 : 0) || y[i] != (k ? x[i] * s : 0.0f)) ++bad;
  }
  EXPECT_TRUE(bad == 0);
  // Bernoulli(0.7) over 200k draws: the kept fraction is within 1% (≈ 10 standard deviations).
  EXPECT_NEAR(static_cast<double>(kept) / n, 0.7, 0.01);
  cpu::dropout_backward(n, ratio, mask.data(), dy.data(), dx.data());
  for (size_t i = 0; i < n; ++i)
    if (dx[i] != (mask[i] ? dy[i] * s : 0.0f)) ++bad;
  EXPECT_TRUE(bad == 0);
  // Same mask on one thread; a different stream gives a different mask.
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  std::vector<uint8_t> mask1(n);
  std::vector<float> y1(n);
  cpu::dropout_forward(n, ratio, 42, 7, x.data(), y1.data(), mask1.data());
  omp_set_num_threads(threads);
  EXPECT_TRUE(std::memcmp(mask.data(), mask1.data(), n) == 0);
  cpu::dropout_forward(n, ratio, 42, 8, x.data(), y1.data(), mask1.data());
  EXPECT_TRUE(std::memcmp(mask.data(), mask1.data(), n) != 0);
  // ratio 0 keeps everything unscaled
  cpu::dropout_forward(n, 0.0f, 1, 1, x.data(), y1.data(), nullptr);
  EXPECT_TRUE(std::memcmp(x.data(), y1.data(), n * sizeof(float)) == 0);
}

NASNET_TEST(kernels_droppath_per_sample) {
  const int N = 64;
  const size_t per = 75;
  const float keep = 0.6f;
  std::vector<float> x = random_vec(N * per, 5), dy = random_vec(N * per, 6), y(N * per), dx(N * per);
  std::vector<uint8_t> km(N);
  cpu::droppath_forward(N, per, keep, 9, 3, x.data(), y.data(), km.data());
  int bad = 0, kept = 0;
  for (int n = 0; n < N; ++n) {
    bool k = uniform01(9, 3, n) < keep;
    kept += k;
    if (km[n] != (k ? 1 : 0)) ++bad;
    for (size_t i = 0; i < per; ++i) {
      size_t q = n * per + i;
      if (y[q] != (k ? x[q] * (1.0f / keep) : 0.0f)) ++bad;
    }
  }
  EXPECT_TRUE(bad == 0);
  EXPECT_TRUE(kept > 10 && kept < 60);
  cpu::droppath_backward(N, per, keep, km.data(), dy.data(), dx.data());
  for (int n = 0; n < N; ++n)
    for (size_t i = 0; i < per; ++i) {
      size_t q = n * per + i;
      if (dx[q] != (km[n] ? dy[q] * (1.0f / keep) : 0.0f)) ++bad;
    }
  EXPECT_TRUE(bad == 0);
}
