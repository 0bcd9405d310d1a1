// Softmax cross-entropy with label smoothing.
// N = rows (batch), K = classes; s = smoothing; target = (1 - s) * onehot(label) + s / K.
// loss_n = logsumexp(z) - sum_k target_k * z_k, computed stably as m + log(sum exp(z - m)), m = max z.
// dlogits is written (=): weight * (softmax - target) / N. The returned loss is the plain mean over
// rows (weight scales the gradient only). Rows are independent; the mean is summed in row order.
#include <cmath>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/kernels.h"

namespace nasnet::cpu {

double softmax_cross_entropy(int N, int K, const float* logits, const int32_t* labels, float smoothing, float weight,
                             float* dlogits, int* correct) {
  std::vector<double> row_loss(N);
  std::vector<int> row_hit(N);
  const double off = static_cast<double>(smoothing) / K, on = 1.0 - smoothing + off;
#pragma omp parallel for schedule(static) num_threads(N * K >= 16384 ? kernel_threads() : 1)
  for (int n = 0; n < N; ++n) {
    const float* z = logits + static_cast<size_t>(n) * K;
    const int label = labels[n];
    int arg = 0;
    float m = z[0];
    for (int k = 1; k < K; ++k)
      if (z[k] > m) {
        m = z[k];
        arg = k;
      }
    double sum = 0.0, zsum = 0.0;
    for (int k = 0; k < K; ++k) {
      sum += std::exp(static_cast<double>(z[k]) - m);
      zsum += z[k];
    }
    const double lse = m + std::log(sum);
    row_loss[n] = lse - (off * zsum + (1.0 - smoothing) * z[label]);
    row_hit[n] = arg == label ? 1 : 0;
    if (dlogits != nullptr) {
      float* d = dlogits + static_cast<size_t>(n) * K;
      const double g = static_cast<double>(weight) / N;
      for (int k = 0; k < K; ++k) {
        const double p = std::exp(static_cast<double>(z[k]) - lse);
        d[k] = static_cast<float>(g * (p - (k == label ? on : off)));
      }
    }
  }
  double total = 0.0;
  int hits = 0;
  for (int n = 0; n < N; ++n) {
    total += row_loss[n];
    hits += row_hit[n];
  }
  if (correct != nullptr) *correct = hits;
  return N > 0 ? total / N : 0.0;
}

}  // namespace nasnet::cpu
