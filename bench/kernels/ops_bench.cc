// Times the CPU kernels at NASNet shapes: forward and backward of each op, median of R runs.
// Prints one JSON object per line: {"op", "shape", "fwdMs", "bwdMs", "gflops" | "gbps"}.
// Built by CMake with -DNASNET_BUILD_BENCH=ON (target nasnet_bench_ops); driven by bench/ops.ts.
// Usage: nasnet_bench_ops [reps] [op] (op: only that op's rows, e.g. conv1x1_s2).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cpu/kernels.h"

using namespace nasnet::cpu;

namespace {

double median_ms(int reps, const std::function<void()>& fn) {
  for (int i = 0; i < 3; ++i) fn();  // warm-up: thread pool, first touch of the buffers, clocks
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto a = std::chrono::steady_clock::now();
    fn();
    auto b = std::chrono::steady_clock::now();
    t.push_back(std::chrono::duration<double, std::milli>(b - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::vector<float> rnd(size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(g);
  return v;
}

int reps = 5;
const char* only = nullptr;  // the second argument: time only this op's rows (a kernel being tuned)
bool wanted(const char* op) { return only == nullptr || std::string(only) == op; }

void conv(const char* name, int N, int C, int H, int K, int k1, int k2, int stride, int groups, int dil = 1) {
  if (!wanted(name)) return;
  ConvShape s{};
  s.N = N; s.C = C; s.H = H; s.W = H; s.K = K; s.kh = k1; s.kw = k2; s.sh = s.sw = stride;
  int eh = dil * (k1 - 1) + 1, ew = dil * (k2 - 1) + 1;
  int ph = std::max(0, ((H + stride - 1) / stride - 1) * stride + eh - H);
  int pw = std::max(0, ((H + stride - 1) / stride - 1) * stride + ew - H);
  s.pt = ph / 2; s.pb = ph - ph / 2; s.pl = pw / 2; s.pr = pw - pw / 2;
  s.dh = s.dw = dil; s.groups = groups;
  s.OH = (H + s.pt + s.pb - eh) / stride + 1;
  s.OW = (H + s.pl + s.pr - ew) / stride + 1;
  auto x = rnd((size_t)N * C * H * H, 1), w = rnd((size_t)K * (C / groups) * k1 * k2, 2);
  std::vector<float> y((size_t)N * K * s.OH * s.OW), dx(x.size()), dw(w.size());
  auto dy = rnd(y.size(), 3);
  double f = median_ms(reps, [&] { conv2d_forward(s, x.data(), w.data(), nullptr, y.data()); });
  double b = median_ms(reps, [&] { conv2d_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), nullptr); });
  double flops = 2.0 * N * K * (C / groups) * k1 * k2 * s.OH * s.OW;
  std::printf("{\"op\":\"%s\",\"shape\":\"N%d C%d %dx%d K%d k%dx%d s%d g%d\",\"fwdMs\":%.4f,\"bwdMs\":%.4f,\"gflops\":%.2f}\n",
              name, N, C, H, H, K, k1, k2, stride, groups, f, b, 3 * flops / ((f + b) * 1e6));
}

void batchnorm(int N, int C, int H) {
  if (!wanted("batchnorm")) return;
  BatchNormShape s{N, C, H * H};
  size_t n = (size_t)N * C * H * H;
  auto x = rnd(n, 1), dy = rnd(n, 2);
  std::vector<float> y(n), dx(n), g(C, 1.f), bt(C, 0.f), rm(C, 0.f), rv(C, 1.f), sm(C), si(C), dg(C), db(C);
  double f = median_ms(reps, [&] { batchnorm_forward_train(s, x.data(), g.data(), bt.data(), 1e-5f, 0.9f, rm.data(), rv.data(), y.data(), sm.data(), si.data()); });
  double b = median_ms(reps, [&] { batchnorm_backward(s, x.data(), dy.data(), g.data(), sm.data(), si.data(), dx.data(), dg.data(), db.data()); });
  double bytes = 4.0 * n * (3 + 5);  // fwd: read x twice, write y; bwd: read x, dy twice, write dx
  std::printf("{\"op\":\"batchnorm\",\"shape\":\"N%d C%d %dx%d\",\"fwdMs\":%.4f,\"bwdMs\":%.4f,\"gbps\":%.2f}\n", N, C, H, H, f, b, bytes / ((f + b) * 1e6));
}

void relu(int N, int C, int H) {
  if (!wanted("relu")) return;
  size_t n = (size_t)N * C * H * H;
  auto x = rnd(n, 1), dy = rnd(n, 2);
  std::vector<float> y(n), dx(n);
  double f = median_ms(reps, [&] { relu_forward(n, x.data(), y.data()); });
  double b = median_ms(reps, [&] { relu_backward(n, y.data(), dy.data(), dx.data()); });
  std::printf("{\"op\":\"relu\",\"shape\":\"N%d C%d %dx%d\",\"fwdMs\":%.4f,\"bwdMs\":%.4f,\"gbps\":%.2f}\n", N, C, H, H, f, b, 4.0 * n * 5 / ((f + b) * 1e6));
}

void pool(const char* name, bool max, int N, int C, int H, int k, int stride) {
  if (!wanted(name)) return;
  PoolShape s{};
  s.N = N; s.C = C; s.H = s.W = H; s.kh = s.kw = k; s.sh = s.sw = stride;
  int p = std::max(0, ((H + stride - 1) / stride - 1) * stride + k - H);
  s.pt = s.pl = p / 2; s.pb = s.pr = p - p / 2;
  s.OH = s.OW = (H + p - k) / stride + 1;
  s.count_include_pad = false;
  size_t n = (size_t)N * C * H * H, m = (size_t)N * C * s.OH * s.OW;
  auto x = rnd(n, 1), dy = rnd(m, 2);
  std::vector<float> y(m), dx(n);
  std::vector<int32_t> arg(m);
  double f = median_ms(reps, [&] { if (max) maxpool_forward(s, x.data(), y.data(), arg.data()); else avgpool_forward(s, x.data(), y.data()); });
  double b = median_ms(reps, [&] { if (max) maxpool_backward(s, arg.data(), dy.data(), dx.data()); else avgpool_backward(s, dy.data(), dx.data()); });
  std::printf("{\"op\":\"%s\",\"shape\":\"N%d C%d %dx%d k%d s%d\",\"fwdMs\":%.4f,\"bwdMs\":%.4f,\"gbps\":%.2f}\n", name, N, C, H, H, k, stride, f, b, 4.0 * (2 * n + 2 * m) / ((f + b) * 1e6));
}

void gemm(int M) {
  if (!wanted("sgemm")) return;
  auto a = rnd((size_t)M * M, 1), b = rnd((size_t)M * M, 2);
  std::vector<float> c((size_t)M * M);
  double t = median_ms(reps, [&] { sgemm(false, false, M, M, M, 1.f, a.data(), M, b.data(), M, 0.f, c.data(), M); });
  std::printf("{\"op\":\"sgemm\",\"shape\":\"%dx%dx%d\",\"fwdMs\":%.4f,\"bwdMs\":0,\"gflops\":%.2f}\n", M, M, M, t, 2.0 * M * M * M / (t * 1e6));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) reps = std::max(1, std::atoi(argv[1]));
  if (argc > 2) only = argv[2];
  const int N = 64;
  gemm(1024);
  gemm(2048);
  for (auto [C, H] : {std::pair{32, 32}, std::pair{64, 16}, std::pair{128, 16}}) {
    conv("conv1x1", N, C, H, C, 1, 1, 1, 1);
    conv("depthwise3x3", N, C, H, C, 3, 3, 1, C);
    conv("depthwise5x5", N, C, H, C, 5, 5, 1, C);
    conv("depthwise7x7", N, C, H, C, 7, 7, 1, C);
    conv("conv3x3", N, C, H, C, 3, 3, 1, 1);
    conv("conv1x7", N, C, H, C, 1, 7, 1, 1);
    batchnorm(N, C, H);
    relu(N, C, H);
    pool("maxpool3x3", true, N, C, H, 3, 1);
    pool("avgpool3x3", false, N, C, H, 3, 1);
  }
  // Reduction cells' pools (TF SAME: pads 0 before, 1 after on even planes).
  for (auto [C, H] : {std::pair{32, 32}, std::pair{64, 16}}) {
    pool("maxpool3x3", true, N, C, H, 3, 2);
    pool("avgpool3x3", false, N, C, H, 3, 2);
  }
  conv("depthwise5x5_s2", N, 64, 32, 64, 5, 5, 2, 64);
  conv("conv1x1_s2", N, 64, 32, 32, 1, 1, 2, 1);
  // The factorized reduction's path convolutions at NASNet-A CIFAR 1@192 (C48 → 8, C96 → 16) and
  // 2@768 (C192 → 32, C384 → 64), and one at batch 1.
  for (auto [C, H] : {std::pair{48, 32}, std::pair{96, 16}, std::pair{192, 32}, std::pair{384, 16}})
    conv("conv1x1_s2", N, C, H, C / 6, 1, 1, 2, 1);
  conv("conv1x1_s2", 1, 192, 32, 32, 1, 1, 2, 1);
  conv("dilconv3x3", N, 32, 32, 32, 3, 3, 1, 32, 2);
  return 0;
}
