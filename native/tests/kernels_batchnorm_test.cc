// Batch normalization against an fp64 reference; backward against central differences of
// L = sum(dy * y) through the batch statistics (fp64, h = 1e-4: O(h^2) ~ 1e-8 truncation).
// Tolerances: values rtol 1e-4 / atol 1e-4 (fp32 normalization), gradients rtol 1e-3 / atol 1e-4.
#include "cpu/kernels.h"
#include "tests/kernels_util.h"

using namespace nasnet;
using namespace nasnet::test;

namespace {

void ref_bn(int N, int C, int HW, const std::vector<double>& x, const std::vector<double>& g,
            const std::vector<double>& b, double eps, std::vector<double>& y, std::vector<double>* mean_out = nullptr,
            std::vector<double>* var_out = nullptr) {
  y.assign(x.size(), 0.0);
  const double M = static_cast<double>(N) * HW;
  for (int c = 0; c < C; ++c) {
    double mean = 0, var = 0;
    for (int n = 0; n < N; ++n)
      for (int q = 0; q < HW; ++q) mean += x[(static_cast<size_t>(n) * C + c) * HW + q];
    mean /= M;
    for (int n = 0; n < N; ++n)
      for (int q = 0; q < HW; ++q) {
        double d = x[(static_cast<size_t>(n) * C + c) * HW + q] - mean;
        var += d * d;
      }
    var /= M;
    for (int n = 0; n < N; ++n)
      for (int q = 0; q < HW; ++q) {
        size_t i = (static_cast<size_t>(n) * C + c) * HW + q;
        y[i] = (x[i] - mean) / std::sqrt(var + eps) * g[c] + b[c];
      }
    if (mean_out != nullptr) (*mean_out)[c] = mean;
    if (var_out != nullptr) (*var_out)[c] = var;
  }
}

void check_bn(int N, int C, int HW, float offset, uint32_t seed) {
  const float eps = 1e-3f, momentum = 0.9f;
  const size_t n = static_cast<size_t>(N) * C * HW;
  std::vector<float> x = random_vec(n, seed, offset - 1.0f, offset + 1.0f), gamma = random_vec(C, seed + 1, 0.5f, 1.5f),
                     beta = random_vec(C, seed + 2), dy = random_vec(n, seed + 3);
  std::vector<double> xd = to_double(x), gd = to_double(gamma), bd = to_double(beta);
  std::vector<double> yref, mean(C), var(C);
  ref_bn(N, C, HW, xd, gd, bd, eps, yref, &mean, &var);
  auto objective = [&]() {
    std::vector<double> y;
    ref_bn(N, C, HW, xd, gd, bd, eps, y);
    double L = 0;
    for (size_t q = 0; q < n; ++q) L += dy[q] * y[q];
    return L;
  };
  std::vector<size_t> ix = sample_indices(n, 300, seed), ic = sample_indices(C, 64, seed);
  std::vector<double> gx = numeric_grad(xd, ix, objective), gg = numeric_grad(gd, ic, objective),
                      gb = numeric_grad(bd, ic, objective);
  cpu::BatchNormShape s{N, C, HW};
  std::vector<float> y(n), sm(C), si(C), rm(C, 0.5f), rv(C, 2.0f);
  cpu::batchnorm_forward_train(s, x.data(), gamma.data(), beta.data(), eps, momentum, rm.data(), rv.data(), y.data(),
                               sm.data(), si.data());
  all_close("bn y", y, yref, 1e-4, 1e-4);
  all_close("bn save_mean", sm, mean, 1e-6, 1e-6);
  std::vector<double> invstd(C), rm_ref(C), rv_ref(C);
  const double M = static_cast<double>(N) * HW;
  for (int c = 0; c < C; ++c) {
    invstd[c] = 1.0 / std::sqrt(var[c] + eps);
    rm_ref[c] = 0.5 * momentum + mean[c] * (1 - momentum);
    rv_ref[c] = 2.0 * momentum + (M > 1 ? var[c] * M / (M - 1) : var[c]) * (1 - momentum);
  }
  all_close("bn save_invstd", si, invstd, 1e-5, 1e-6);
  all_close("bn running_mean", rm, rm_ref, 1e-5, 1e-6);
  all_close("bn running_var (unbiased)", rv, rv_ref, 1e-5, 1e-6);

  std::vector<float> dx(n), dg0 = random_vec(C, seed + 4), db0 = random_vec(C, seed + 5);
  std::vector<float> dg = dg0, db = db0;
  cpu::batchnorm_backward(s, x.data(), dy.data(), gamma.data(), sm.data(), si.data(), dx.data(), dg.data(), db.data());
  for (size_t k = 0; k < ic.size(); ++k) {
    gg[k] += dg0[ic[k]];
    gb[k] += db0[ic[k]];
  }
  all_close("bn dx", pick(dx, ix), gx, 1e-3, 1e-4);
  all_close("bn dgamma (+=)", pick(dg, ic), gg, 1e-3, 1e-4);
  all_close("bn dbeta (+=)", pick(db, ic), gb, 1e-3, 1e-4);

  // Eval with the running statistics.
  std::vector<float> ye(n);
  cpu::batchnorm_forward_eval(s, x.data(), gamma.data(), beta.data(), rm.data(), rv.data(), eps, ye.data());
  std::vector<double> ye_ref(n);
  for (int nn = 0; nn < N; ++nn)
    for (int c = 0; c < C; ++c)
      for (int q = 0; q < HW; ++q) {
        size_t i = (static_cast<size_t>(nn) * C + c) * HW + q;
        ye_ref[i] = (xd[i] - rm[c]) / std::sqrt(static_cast<double>(rv[c]) + eps) * gd[c] + bd[c];
      }
  all_close("bn eval y", ye, ye_ref, 1e-4, 1e-4);
}

}  // namespace

NASNET_TEST(kernels_batchnorm_train_eval_backward) {
  // At every SIMD level (the per-plane loops of cpu/bn_loops are compiled once per level); planes
  // of 35, 9, 17 and 64 values: vector bodies and tails at each width.
  for_each_simd([](SimdLevel) {
    check_bn(3, 4, 35, 0.0f, 1);
    check_bn(1, 3, 1 * 9, 0.0f, 2);
    check_bn(8, 5, 17, 0.0f, 3);
    // Offset inputs: the two-pass statistics keep the variance accurate.
    check_bn(4, 2, 64, 100.0f, 4);
  });
}
