// Softmax cross-entropy with label smoothing against an fp64 reference; dlogits against central
// differences of weight * mean loss (fp64, h = 1e-5). Tolerances: loss rtol 1e-6 (computed in
// double inside), dlogits rtol 1e-3 / atol 1e-6 (stored as fp32).
#include "cpu/kernels.h"
#include "tests/kernels_util.h"

using namespace nasnet;
using namespace nasnet::test;

namespace {
double ref_loss(int N, int K, const std::vector<double>& z, const std::vector<int32_t>& labels, double s) {
  double total = 0;
  for (int n = 0; n < N; ++n) {
    double m = z[n * K];
    for (int k = 1; k < K; ++k) m = std::max(m, z[n * K + k]);
    double se = 0;
    for (int k = 0; k < K; ++k) se += std::exp(z[n * K + k] - m);
    double lse = m + std::log(se);
    for (int k = 0; k < K; ++k) {
      double t = (k == labels[n] ? 1.0 - s : 0.0) + s / K;
      total += t * (lse - z[n * K + k]);
    }
  }
  return total / N;
}
}  // namespace

NASNET_TEST(kernels_softmax_cross_entropy_smoothing_and_gradient) {
  const int N = 7, K = 10;
  const float weight = 0.4f;
  std::vector<float> z = random_vec(N * K, 1, -3.0f, 3.0f);
  std::vector<int32_t> labels(N);
  for (int n = 0; n < N; ++n) labels[n] = (n * 3) % K;
  for (float s : {0.0f, 0.1f}) {
    std::vector<double> zd = to_double(z);
    std::vector<float> d(N * K);
    int correct = -1;
    double loss = cpu::softmax_cross_entropy(N, K, z.data(), labels.data(), s, weight, d.data(), &correct);
    EXPECT_NEAR(loss, ref_loss(N, K, zd, labels, s), 1e-6 * loss);
    int hits = 0;
    for (int n = 0; n < N; ++n) {
      int arg = 0;
      for (int k = 1; k < K; ++k)
        if (z[n * K + k] > z[n * K + arg]) arg = k;
      hits += arg == labels[n];
    }
    EXPECT_TRUE(correct == hits);
    std::vector<size_t> idx = sample_indices(N * K, 1000, 1);
    std::vector<double> g = numeric_grad(zd, idx, [&]() { return weight * ref_loss(N, K, zd, labels, s); }, 1e-5);
    all_close("dlogits", d, g, 1e-3, 1e-6);
  }
}

NASNET_TEST(kernels_softmax_cross_entropy_stable_for_large_logits) {
  // Shifting every logit by 1000 changes nothing mathematically; exp(1000) would overflow a naive
  // implementation.
  const int N = 3, K = 5;
  std::vector<float> z = random_vec(N * K, 2), zs(N * K);
  for (int i = 0; i < N * K; ++i) zs[i] = z[i] + 1000.0f;
  std::vector<int32_t> labels = {0, 4, 2};
  std::vector<float> d1(N * K), d2(N * K);
  double a = cpu::softmax_cross_entropy(N, K, z.data(), labels.data(), 0.1f, 1.0f, d1.data(), nullptr);
  double b = cpu::softmax_cross_entropy(N, K, zs.data(), labels.data(), 0.1f, 1.0f, d2.data(), nullptr);
  EXPECT_TRUE(std::isfinite(b));
  // fp32 logits near 1000 carry ~6e-5 absolute rounding
  EXPECT_NEAR(a, b, 1e-3);
  all_close("dlogits shifted", d2, to_double(d1), 1e-2, 1e-4);
  // no outputs requested
  double c = cpu::softmax_cross_entropy(N, K, z.data(), labels.data(), 0.1f, 1.0f, nullptr, nullptr);
  EXPECT_NEAR(a, c, 0);
}
