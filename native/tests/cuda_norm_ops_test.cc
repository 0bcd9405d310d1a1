// The batch-norm and softmax cross-entropy pieces of the CUDA kernels (native/cuda/norm_ops.h),
// replayed on the host in the kernels' exact order — 256 (BN, per slice of a channel's images) or
// 128 (loss) thread partials, then block_sum's fixed tree, then the slices in order — against the
// CPU kernels. Runs without a device.
// Tolerances: BN values atol = rtol = 1e-4 (float elementwise math in another association; the
// statistics are double on both sides); loss rtol 1e-9 (double on both sides); dlogits 1e-6.
#include <cmath>
#include <cstdio>
#include <vector>

#include "core/random.h"
#include "cpu/kernels.h"
#include "cuda/norm_ops.h"
#include "tests/kernels_util.h"
#include "tests/test.h"

namespace {

namespace cu = nasnet::cuda;
namespace cpu = nasnet::cpu;

std::vector<float> rnd(size_t n, uint64_t seed, float lo, float hi) { return nasnet::test::counter_random(n, seed, 13, lo, hi); }

void close(const char* what, const std::vector<float>& got, const std::vector<float>& ref, double tol) { nasnet::test::all_close(what, got, ref, tol, tol); }

// block_sum over `threads` partials: the fixed halving tree of native/cuda/common.cuh.
double tree(std::vector<double> v) {
  for (size_t half = v.size() / 2; half > 0; half >>= 1)
    for (size_t t = 0; t < half; ++t) v[t] += v[t + half];
  return v[0];
}

}  // namespace

NASNET_TEST(cuda_batchnorm_norm_ops_match_cpu_on_host) {
  const int T = 256;  // kThreads
  // Shapes with one slice per image (few channels), several images per slice, uneven slices, and
  // one slice for all (as many channels as kBnTargetBlocks).
  for (const cpu::BatchNormShape& s : {cpu::BatchNormShape{4, 6, 37}, cpu::BatchNormShape{2, 3, 1000},
                                       cpu::BatchNormShape{1, 5, 1}, cpu::BatchNormShape{7, 300, 5},
                                       cpu::BatchNormShape{3, 1024, 2}}) {
    const size_t n = (size_t)s.N * s.C * s.HW, count = (size_t)s.N * s.HW;
    auto x = rnd(n, 1, 2.f, 5.f), gamma = rnd(s.C, 2, 0.5f, 1.5f), beta = rnd(s.C, 3, -1.f, 1.f),
         dy = rnd(n, 4, -1.f, 1.f), rm0 = rnd(s.C, 5, -1.f, 1.f), rv0 = rnd(s.C, 6, 0.5f, 2.f);
    const float eps = 1e-3f, momentum = 0.9f;
    std::vector<float> y(n), yr(n), sm(s.C), si(s.C), rm = rm0, rv = rv0, dx(n), dg(s.C, 0.f), db(s.C, 0.f), ye(n);
    cpu::batchnorm_forward_train(s, x.data(), gamma.data(), beta.data(), eps, momentum, rm.data(), rv.data(), y.data(),
                                 sm.data(), si.data());
    cpu::relu_forward(n, y.data(), yr.data());
    cpu::batchnorm_backward(s, x.data(), dy.data(), gamma.data(), sm.data(), si.data(), dx.data(), dg.data(), db.data());
    cpu::batchnorm_forward_eval(s, x.data(), gamma.data(), beta.data(), rm0.data(), rv0.data(), eps, ye.data());

    std::vector<float> gy(n), gyr(n), gsm(s.C), gsi(s.C), grm = rm0, grv = rv0, gdx(n), gdg(s.C, 0.f), gdb(s.C, 0.f),
        gye(n);
    // batchnorm.cu's split reductions: block (c, j) over slice j, then the slices in order.
    const int S = cu::bn_slices(s);
    auto slice_tree = [&](int op, int c, int j, double mean, float fmean, float invstd, double* a_out, double* b_out) {
      std::vector<double> a(T), b(T);
      const int n0 = cu::bn_slice_begin(s, S, j), n1 = cu::bn_slice_begin(s, S, j + 1);
      for (int t = 0; t < T; ++t)
        cu::bn_slice_partial(s, x.data(), dy.data(), c, n0, n1, op, mean, fmean, invstd, t, T, &a[t], &b[t]);
      *a_out = tree(a);
      *b_out = tree(b);
    };
    const size_t plane = (size_t)s.C * s.HW;
    for (int c = 0; c < s.C; ++c) {
      std::vector<double> sums(S), sqs(S), unused(S);
      for (int j = 0; j < S; ++j) slice_tree(0, c, j, 0.0, 0.f, 0.f, &sums[j], &unused[j]);
      double sum = 0.0;
      for (int j = 0; j < S; ++j) sum += sums[j];
      for (int j = 0; j < S; ++j) slice_tree(1, c, j, sum / (double)count, 0.f, 0.f, &sqs[j], &unused[j]);
      double sum2 = 0.0, sq = 0.0;
      for (int j = 0; j < S; ++j) {
        sum2 += sums[j];
        sq += sqs[j];
      }
      cu::bn_finish_stats(sum2, sq, count, eps, momentum, &gsm[c], &gsi[c], &grm[c], &grv[c]);
      for (int m = 0; m < s.N; ++m)
        for (int i = 0; i < s.HW; ++i) {
          const size_t at = m * plane + (size_t)c * s.HW + i;
          gy[at] = cu::bn_train_y(x[at], gsm[c], gamma[c] * gsi[c], beta[c], false);
          gyr[at] = cu::bn_train_y(x[at], gsm[c], gamma[c] * gsi[c], beta[c], true);
        }
      // backward: op 2 over the slices, then per channel, then elementwise
      std::vector<double> a(S), b(S);
      for (int j = 0; j < S; ++j) slice_tree(2, c, j, 0.0, gsm[c], gsi[c], &a[j], &b[j]);
      double sdy = 0.0, sdyx = 0.0;
      for (int j = 0; j < S; ++j) {
        sdy += a[j];
        sdyx += b[j];
      }
      gdg[c] += static_cast<float>(sdyx);
      gdb[c] += static_cast<float>(sdy);
      const float mdy = (float)(sdy / (double)count), mdyx = (float)(sdyx / (double)count);
      for (int m = 0; m < s.N; ++m)
        for (int i = 0; i < s.HW; ++i) {
          const size_t at = m * plane + (size_t)c * s.HW + i;
          gdx[at] = cu::bn_dx(x[at], dy[at], gsm[c], gsi[c], gamma[c] * gsi[c], mdy, mdyx);
        }
    }
    for (size_t i = 0; i < n; ++i) {
      int c = (i / s.HW) % s.C;
      gye[i] = cu::bn_eval_y(x[i], gamma[c], beta[c], rm0[c], rv0[c], eps, false);
    }
    std::printf("  N=%d C=%d HW=%d\n", s.N, s.C, s.HW);
    close("bn y", gy, y, 1e-4);
    close("bn+relu y", gyr, yr, 1e-4);
    close("bn save_mean", gsm, sm, 1e-5);
    close("bn save_invstd", gsi, si, 1e-5);
    close("bn running_mean", grm, rm, 1e-5);
    close("bn running_var", grv, rv, 1e-5);
    close("bn dx", gdx, dx, 1e-4);
    close("bn dgamma", gdg, dg, 1e-4);
    close("bn dbeta", gdb, db, 1e-4);
    close("bn eval y", gye, ye, 1e-4);
  }
}

NASNET_TEST(cuda_loss_norm_ops_match_cpu_on_host) {
  const int T = 128;  // kLossThreads
  const int N = 33;
  for (int K : {10, 1000}) {
    auto logits = rnd((size_t)N * K, 1, -4.f, 4.f);
    logits[3 * K + 2] = logits[3 * K + 7] = 9.f;  // a tie: the first index wins
    std::vector<int32_t> labels(N);
    for (int i = 0; i < N; ++i) labels[i] = (i * 7) % K;
    labels[3] = 2;
    for (float smoothing : {0.f, 0.1f}) {
      std::vector<float> dl((size_t)N * K), gdl((size_t)N * K);
      int correct = -1;
      double loss = cpu::softmax_cross_entropy(N, K, logits.data(), labels.data(), smoothing, 0.4f, dl.data(), &correct);
      std::vector<double> row_loss(N);
      int hits = 0;
      for (int r = 0; r < N; ++r) {  // ce_rows, block r
        const float* z = logits.data() + (size_t)r * K;
        std::vector<float> best(T);
        std::vector<int> arg(T);
        for (int t = 0; t < T; ++t) cu::ce_partial_max(z, K, t, T, &best[t], &arg[t]);
        for (int half = T / 2; half > 0; half >>= 1)
          for (int t = 0; t < half; ++t) cu::ce_merge_max(&best[t], &arg[t], best[t + half], arg[t + half], K);
        std::vector<double> se(T), sz(T);
        for (int t = 0; t < T; ++t) cu::ce_partial_sums(z, K, best[0], t, T, &se[t], &sz[t]);
        double lse = (double)best[0] + std::log(tree(se));
        row_loss[r] = cu::ce_row_loss(lse, z[labels[r]], tree(sz), smoothing, K);
        hits += arg[0] == labels[r] ? 1 : 0;
        for (int k = 0; k < K; ++k)
          gdl[(size_t)r * K + k] = cu::ce_dlogit(z[k], lse, k == labels[r], smoothing, K, 0.4 / N);
      }
      std::vector<double> part(256, 0.0);  // ce_total: 256 threads, strided, then the tree
      for (int r = 0; r < N; ++r) part[r % 256] += row_loss[r];
      double got = tree(part) / N;
      std::printf("  K=%d smoothing %.1f: loss %.12f (cpu %.12f), correct %d (cpu %d)\n", K, smoothing, got, loss, hits,
                  correct);
      EXPECT_NEAR(got, loss, 1e-9 * std::fabs(loss));
      EXPECT_TRUE(hits == correct);
      close("dlogits", gdl, dl, 1e-6);
    }
  }
}
