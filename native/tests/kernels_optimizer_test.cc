// SGD (momentum, Nesterov) and RMSProp against fp64 implementations of the documented formulas over
// three steps (rtol 1e-5 / atol 1e-6: a handful of fp32 roundings per step); sum_squares against an
// fp64 sum (rtol 1e-6) and bitwise repeatable.
#include "cpu/kernels.h"
#include "tests/kernels_util.h"

using namespace nasnet;
using namespace nasnet::test;

NASNET_TEST(kernels_optimizer_sgd_momentum_nesterov) {
  const size_t n = 40001;
  for (bool nesterov : {false, true}) {
    std::vector<float> w = random_vec(n, 1), v(n, 0.0f);
    std::vector<double> wd = to_double(w), vd(n, 0.0);
    const float lr = 0.05f, mom = 0.9f, wdk = 3e-4f, gs = 0.5f;
    for (int step = 0; step < 3; ++step) {
      std::vector<float> g = random_vec(n, 10 + step);
      cpu::sgd_momentum_update(n, lr, mom, nesterov, wdk, gs, w.data(), g.data(), v.data());
      for (size_t i = 0; i < n; ++i) {
        double gp = g[i] * static_cast<double>(gs) + static_cast<double>(wdk) * wd[i];
        vd[i] = mom * vd[i] + gp;
        wd[i] -= lr * (nesterov ? gp + mom * vd[i] : vd[i]);
      }
    }
    all_close(nesterov ? "nesterov w" : "sgd w", w, wd, 1e-5, 1e-6);
    all_close(nesterov ? "nesterov v" : "sgd v", v, vd, 1e-5, 1e-6);
  }
}

NASNET_TEST(kernels_optimizer_rmsprop) {
  const size_t n = 20011;
  std::vector<float> w = random_vec(n, 2), ms(n, 1.0f), mo(n, 0.0f);
  std::vector<double> wd = to_double(w), msd(n, 1.0), mod(n, 0.0);
  const float lr = 0.01f, decay = 0.9f, mom = 0.9f, eps = 1e-3f, wdk = 1e-4f, gs = 2.0f;
  for (int step = 0; step < 3; ++step) {
    std::vector<float> g = random_vec(n, 20 + step);
    cpu::rmsprop_update(n, lr, decay, mom, eps, wdk, gs, w.data(), g.data(), ms.data(), mo.data());
    for (size_t i = 0; i < n; ++i) {
      double gp = g[i] * static_cast<double>(gs) + static_cast<double>(wdk) * wd[i];
      msd[i] = decay * msd[i] + (1 - static_cast<double>(decay)) * gp * gp;
      mod[i] = mom * mod[i] + lr * gp / std::sqrt(msd[i] + eps);
      wd[i] -= mod[i];
    }
  }
  all_close("rmsprop w", w, wd, 1e-5, 1e-6);
  all_close("rmsprop ms", ms, msd, 1e-5, 1e-6);
  all_close("rmsprop mom", mo, mod, 1e-5, 1e-6);
}

NASNET_TEST(kernels_optimizer_sum_squares) {
  for (size_t n : {size_t(0), size_t(5), size_t(1000003)}) {
    std::vector<float> g = random_vec(n, 3);
    double ref = 0;
    for (float v : g) ref += static_cast<double>(v) * v;
    double a = cpu::sum_squares(n, g.data()), b = cpu::sum_squares(n, g.data());
    EXPECT_NEAR(a, ref, 1e-6 * ref);
    EXPECT_TRUE(a == b);
  }
}

NASNET_TEST(kernels_optimizer_ema) {
  const size_t n = 30011;
  std::vector<float> shadow = random_vec(n, 4);
  std::vector<double> sd = to_double(shadow);
  for (int step = 0; step < 3; ++step) {
    std::vector<float> w = random_vec(n, 30 + step);
    const float d = 0.5f + 0.2f * static_cast<float>(step);
    cpu::ema_update(n, d, w.data(), shadow.data());
    for (size_t i = 0; i < n; ++i) sd[i] = d * sd[i] + (1 - static_cast<double>(d)) * w[i];
  }
  all_close("ema shadow", shadow, sd, 1e-5, 1e-6);
}
