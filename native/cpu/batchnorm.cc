// Batch normalization over (N, HW) per channel.
// N = batch, C = channels, HW = height * width; M = N * HW values per channel.
//
// y and dx are written (=); dgamma, dbeta and the running statistics are updated in place
// (dgamma/dbeta accumulate +=).
//
// Statistics are two-pass (mean, then sum of squared deviations) with per-row float SIMD sums added
// into double, so large M and offset inputs keep their precision. Threads split the channels, so each
// channel's sums have one fixed order: deterministic.
#include <cmath>

#include "cpu/bn_loops.h"
#include "cpu/dispatch.h"
#include "cpu/kernels.h"

namespace nasnet::cpu {
namespace {

inline const float* plane(const float* p, const BatchNormShape& s, int n, int c) {
  return p + (static_cast<size_t>(n) * s.C + c) * s.HW;
}
inline float* plane(float* p, const BatchNormShape& s, int n, int c) {
  return p + (static_cast<size_t>(n) * s.C + c) * s.HW;
}

double channel_mean(const BatchNormShape& s, const float* x, int c) {
  double sum = 0.0;
  for (int n = 0; n < s.N; ++n) sum += bn_plane_sum(static_cast<size_t>(s.HW), plane(x, s, n, c));
  return sum / (static_cast<double>(s.N) * s.HW);
}

double channel_sq_dev(const BatchNormShape& s, const float* x, int c, float mean) {
  double sum = 0.0;
  for (int n = 0; n < s.N; ++n) sum += bn_plane_sq_dev(static_cast<size_t>(s.HW), plane(x, s, n, c), mean);
  return sum;
}

void normalize(const BatchNormShape& s, const float* x, int c, float mean, float mul, float add, float* y) {
  // y = (x - mean) * mul + add
  for (int n = 0; n < s.N; ++n)
    bn_plane_normalize(static_cast<size_t>(s.HW), plane(x, s, n, c), mean, mul, add, plane(y, s, n, c));
}

}  // namespace

void batchnorm_forward_train(const BatchNormShape& s, const float* x, const float* gamma, const float* beta, float eps,
                             float momentum, float* running_mean, float* running_var, float* y, float* save_mean,
                             float* save_invstd) {
  const double M = static_cast<double>(s.N) * s.HW;
  parallel_for(s.C, [&](int c) {
    const double mean = channel_mean(s, x, c);
    const double ssd = channel_sq_dev(s, x, c, static_cast<float>(mean));
    const double var = ssd / M;
    const double unbiased = M > 1.0 ? ssd / (M - 1.0) : var;
    const float invstd = static_cast<float>(1.0 / std::sqrt(var + eps));
    normalize(s, x, c, static_cast<float>(mean), invstd * gamma[c], beta[c], y);
    if (save_mean != nullptr) save_mean[c] = static_cast<float>(mean);
    if (save_invstd != nullptr) save_invstd[c] = invstd;
    if (running_mean != nullptr)
      running_mean[c] = static_cast<float>(running_mean[c] * momentum + mean * (1.0 - momentum));
    if (running_var != nullptr)
      running_var[c] = static_cast<float>(running_var[c] * momentum + unbiased * (1.0 - momentum));
  });
}

void batchnorm_forward_eval(const BatchNormShape& s, const float* x, const float* gamma, const float* beta,
                            const float* running_mean, const float* running_var, float eps, float* y) {
  parallel_for(s.C, [&](int c) {
    const float invstd = static_cast<float>(1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps));
    normalize(s, x, c, running_mean[c], invstd * gamma[c], beta[c], y);
  });
}

void batchnorm_backward(const BatchNormShape& s, const float* x, const float* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, float* dx, float* dgamma, float* dbeta) {
  const double M = static_cast<double>(s.N) * s.HW;
  parallel_for(s.C, [&](int c) {
    const float mean = save_mean[c], invstd = save_invstd[c];
    // sum(dy) and sum(dy * xhat), xhat = (x - mean) * invstd
    double sdy = 0.0, sdyx = 0.0;
    for (int n = 0; n < s.N; ++n) {
      float a, b;
      bn_plane_dy_sums(static_cast<size_t>(s.HW), plane(dy, s, n, c), plane(x, s, n, c), mean, &a, &b);
      sdy += a;
      sdyx += b;
    }
    sdyx *= invstd;
    if (dbeta != nullptr) dbeta[c] += static_cast<float>(sdy);
    if (dgamma != nullptr) dgamma[c] += static_cast<float>(sdyx);
    if (dx != nullptr) {
      // dx = gamma * invstd * (dy - sum(dy)/M - xhat * sum(dy*xhat)/M)
      const float k = gamma[c] * invstd;
      const float mdy = static_cast<float>(sdy / M), mdyx = static_cast<float>(sdyx / M);
      for (int n = 0; n < s.N; ++n)
        bn_plane_input_grad(static_cast<size_t>(s.HW), plane(dy, s, n, c), plane(x, s, n, c), k, mdy, mean, invstd,
                            mdyx, plane(dx, s, n, c));
    }
  });
}

}  // namespace nasnet::cpu
