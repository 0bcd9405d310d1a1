// Concat, pad/crop and strided slice against direct index references (exact copies: tolerance 0),
// and each backward checked as the adjoint of its forward: <dy, f(x)> == <f^T(dy), x> (fp64 dot
// products of fp32 data: rtol 1e-10).
#include "cpu/kernels.h"
#include "tests/kernels_util.h"

using namespace nasnet;
using namespace nasnet::test;

namespace {
double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}
}  // namespace

NASNET_TEST(kernels_layout_concat) {
  const int N = 3, HW = 10, count = 3;
  const int channels[count] = {2, 5, 1};
  std::vector<std::vector<float>> xs;
  for (int i = 0; i < count; ++i) xs.push_back(random_vec(N * channels[i] * HW, 10 + i));
  const float* xp[count] = {xs[0].data(), xs[1].data(), xs[2].data()};
  std::vector<float> y(N * 8 * HW);
  cpu::concat_forward(N, HW, count, xp, channels, y.data());
  std::vector<double> ref;
  for (int n = 0; n < N; ++n)
    for (int i = 0; i < count; ++i)
      for (int q = 0; q < channels[i] * HW; ++q) ref.push_back(xs[i][n * channels[i] * HW + q]);
  all_close("concat y", y, ref, 0, 0);
  std::vector<float> dy = random_vec(y.size(), 5);
  std::vector<std::vector<float>> dxs;
  for (int i = 0; i < count; ++i) dxs.emplace_back(N * channels[i] * HW, 7.0f);
  float* dxp[count] = {dxs[0].data(), dxs[1].data(), dxs[2].data()};
  cpu::concat_backward(N, HW, count, dy.data(), channels, dxp);
  double lhs = dot(dy, y), rhs = 0;
  for (int i = 0; i < count; ++i) rhs += dot(dxs[i], xs[i]);
  EXPECT_NEAR(lhs, rhs, 1e-10 * std::fabs(lhs) + 1e-12);
  // a nullptr gradient is skipped
  float* dxp2[count] = {dxs[0].data(), nullptr, dxs[2].data()};
  cpu::concat_backward(N, HW, count, dy.data(), channels, dxp2);
}

NASNET_TEST(kernels_layout_pad_and_crop) {
  struct P { int H, W, pt, pl, pb, pr; };
  const P cases[] = {{5, 6, 1, 2, 0, 1}, {5, 6, 0, 0, 0, 0}, {7, 8, -1, -2, 1, 0}, {6, 6, -1, -1, -1, -1},
                     {4, 9, 2, -3, -1, 2}};
  const int N = 2, C = 3;
  for (const P& p : cases) {
    const int OH = p.H + p.pt + p.pb, OW = p.W + p.pl + p.pr;
    std::vector<float> x = random_vec(N * C * p.H * p.W, 3), y(N * C * OH * OW, 5.0f);
    cpu::pad_forward(N, C, p.H, p.W, p.pt, p.pl, p.pb, p.pr, x.data(), y.data());
    std::vector<double> ref(y.size());
    for (int q = 0; q < N * C; ++q)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          int ih = oh - p.pt, iw = ow - p.pl;
          bool in = ih >= 0 && ih < p.H && iw >= 0 && iw < p.W;
          ref[(static_cast<size_t>(q) * OH + oh) * OW + ow] = in ? x[(static_cast<size_t>(q) * p.H + ih) * p.W + iw] : 0.0;
        }
    char what[64];
    std::snprintf(what, sizeof what, "pad (%d,%d,%d,%d)", p.pt, p.pl, p.pb, p.pr);
    all_close(what, y, ref, 0, 0);
    std::vector<float> dy = random_vec(y.size(), 4), dx(x.size(), 9.0f);
    cpu::pad_backward(N, C, p.H, p.W, p.pt, p.pl, p.pb, p.pr, dy.data(), dx.data());
    double lhs = dot(dy, y), rhs = dot(dx, x);
    EXPECT_NEAR(lhs, rhs, 1e-10 * std::fabs(lhs) + 1e-12);
  }
}

NASNET_TEST(kernels_layout_slice) {
  struct S { int H, W, h0, w0, sh, sw, OH, OW; };
  const S cases[] = {{8, 8, 1, 1, 2, 2, 4, 4}, {7, 9, 0, 2, 1, 1, 5, 6}, {9, 7, 2, 0, 3, 2, 3, 4}};
  const int N = 2, C = 3;
  for (const S& c : cases) {
    std::vector<float> x = random_vec(N * C * c.H * c.W, 6), y(N * C * c.OH * c.OW);
    cpu::slice_forward(N, C, c.H, c.W, c.h0, c.w0, c.sh, c.sw, c.OH, c.OW, x.data(), y.data());
    std::vector<double> ref;
    for (int q = 0; q < N * C; ++q)
      for (int i = 0; i < c.OH; ++i)
        for (int j = 0; j < c.OW; ++j) ref.push_back(x[(static_cast<size_t>(q) * c.H + c.h0 + i * c.sh) * c.W + c.w0 + j * c.sw]);
    all_close("slice y", y, ref, 0, 0);
    std::vector<float> dy = random_vec(y.size(), 7), dx(x.size(), 3.0f);
    cpu::slice_backward(N, C, c.H, c.W, c.h0, c.w0, c.sh, c.sw, c.OH, c.OW, dy.data(), dx.data());
    double lhs = dot(dy, y), rhs = dot(dx, x);
    EXPECT_NEAR(lhs, rhs, 1e-10 * std::fabs(lhs) + 1e-12);
  }
}
