// Timings of the CUDA kernels (native/cuda) on NASNet-sized shapes, and of the cuDNN convolution
// beside ours when cuDNN loads. Correctness is the parity tests' job (native/tests/cuda_parity_test.cc,
// run first by scripts/gpu-check.sh); this only times. Not built by CMake: scripts/gpu-check.sh
// compiles it against the static libraries when NASNET_GPU_BENCH=1.
//   cuda_bench [--json FILE] [--iters N]
// Each case: 3 warm-up calls, then N timed calls (default 20) between two stream synchronizations;
// the table gives milliseconds per call and GFLOP/s (products) or GB/s (memory-bound kernels).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/random.h"
#include "cuda/conv_cudnn.h"
#include "cuda/kernels.h"

namespace cu = nasnet::cuda;
using nasnet::Status;

namespace {

struct Row {
  std::string name;
  double ms;
  double rate;
  const char* unit;
};

float* dev_random(size_t n, uint64_t seed) {
  std::vector<float> h(n);
  for (size_t i = 0; i < n; ++i) h[i] = 2.f * nasnet::uniform01(seed, 1, i) - 1.f;
  void* p = nullptr;
  if (!cu::device_malloc(&p, n * sizeof(float)).ok()) return nullptr;
  cu::copy_to_device(p, h.data(), n * sizeof(float), nullptr);
  return static_cast<float*>(p);
}

bool time_case(std::vector<Row>* rows, const std::string& name, double work, const char* unit, int iters,
               const std::function<Status()>& fn) {
  for (int i = 0; i < 3; ++i) {
    Status st = fn();
    if (!st.ok()) {
      std::printf("%-40s failed: %s\n", name.c_str(), st.message().c_str());
      return false;
    }
  }
  cu::synchronize(nullptr);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) fn();
  Status st = cu::synchronize(nullptr);
  auto t1 = std::chrono::steady_clock::now();
  if (!st.ok()) {
    std::printf("%-40s failed: %s\n", name.c_str(), st.message().c_str());
    return false;
  }
  double ms = std::chrono::duration<double, std::milli>(t1 - t0).count() / iters;
  Row r{name, ms, work / (ms * 1e-3) / 1e9, unit};
  std::printf("%-40s %10.4f ms %10.1f %s\n", r.name.c_str(), r.ms, r.rate, r.unit);
  rows->push_back(r);
  return true;
}

cu::ConvShape conv(int N, int C, int H, int K, int k, int stride, int groups) {
  int p = k / 2;
  cu::ConvShape s{N, C, H, H, K, k, k, stride, stride, p, p, p, p, 1, 1, groups, 0, 0};
  s.OH = (H + 2 * p - k) / stride + 1;
  s.OW = s.OH;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const char* json = nullptr;
  int iters = 20;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json") && i + 1 < argc) json = argv[++i];
    else if (!std::strcmp(argv[i], "--iters") && i + 1 < argc) iters = std::atoi(argv[++i]);
  }
  Status dev = cu::device_available();
  if (!dev.ok()) {
    std::printf("cuda_bench: %s\n", dev.message().c_str());
    return 2;
  }
  std::vector<Row> rows;
  std::printf("%-40s %13s %15s\n", "case", "time", "rate");

  // SGEMM
  for (int n : {512, 1024, 2048}) {
    float *A = dev_random((size_t)n * n, 1), *B = dev_random((size_t)n * n, 2), *C = dev_random((size_t)n * n, 3);
    time_case(&rows, "sgemm NN " + std::to_string(n), 2.0 * n * n * n, "GFLOP/s", iters,
              [&] { return cu::sgemm(nullptr, false, false, n, n, n, 1.f, A, n, B, n, 0.f, C, n); });
    time_case(&rows, "sgemm TN " + std::to_string(n), 2.0 * n * n * n, "GFLOP/s", iters,
              [&] { return cu::sgemm(nullptr, true, false, n, n, n, 1.f, A, n, B, n, 0.f, C, n); });
    cu::device_free(A), cu::device_free(B), cu::device_free(C);
  }

  // Convolutions: ours, then cuDNN where it loads
  std::unique_ptr<cu::ConvBackendCudnn> dnn;
  Status dst = cu::ConvBackendCudnn::create(false, &dnn);
  if (!dst.ok()) std::printf("(cuDNN rows skipped: %s)\n", dst.message().c_str());
  struct Case {
    const char* name;
    cu::ConvShape s;
  } cases[] = {{"conv 1x1 32x64x32x32->64", conv(32, 64, 32, 64, 1, 1, 1)},
               {"conv 3x3 32x64x32x32->64", conv(32, 64, 32, 64, 3, 1, 1)},
               {"conv 3x3 s2 32x128x32x32->128", conv(32, 128, 32, 128, 3, 2, 1)},
               {"depthwise 5x5 32x128x32x32", conv(32, 128, 32, 128, 5, 1, 128)},
               {"depthwise 7x7 s2 32x128x32x32", conv(32, 128, 32, 128, 7, 2, 128)}};
  for (const Case& c : cases) {
    const cu::ConvShape& s = c.s;
    size_t nx = (size_t)s.N * s.C * s.H * s.W, nw = (size_t)s.K * (s.C / s.groups) * s.kh * s.kw,
           ny = (size_t)s.N * s.K * s.OH * s.OW;
    double flops = 2.0 * ny * (s.C / s.groups) * s.kh * s.kw;
    float *x = dev_random(nx, 1), *w = dev_random(nw, 2), *y = dev_random(ny, 3), *dy = dev_random(ny, 4),
          *dx = dev_random(nx, 5), *dw = dev_random(nw, 6);
    std::string n = c.name;
    time_case(&rows, n + " fwd", flops, "GFLOP/s", iters,
              [&] { return cu::conv2d_forward(nullptr, s, x, w, nullptr, y); });
    time_case(&rows, n + " bwd data", flops, "GFLOP/s", iters,
              [&] { return cu::conv2d_backward(nullptr, s, x, w, dy, dx, nullptr, nullptr); });
    time_case(&rows, n + " bwd filter", flops, "GFLOP/s", iters,
              [&] { return cu::conv2d_backward(nullptr, s, x, w, dy, nullptr, dw, nullptr); });
    if (dnn != nullptr && cu::ConvBackendCudnn::supports(s)) {
      time_case(&rows, n + " fwd cudnn", flops, "GFLOP/s", iters,
                [&] { return dnn->forward(nullptr, s, x, w, nullptr, y); });
      time_case(&rows, n + " bwd data cudnn", flops, "GFLOP/s", iters,
                [&] { return dnn->backward(nullptr, s, x, w, dy, dx, nullptr, nullptr); });
      time_case(&rows, n + " bwd filter cudnn", flops, "GFLOP/s", iters,
                [&] { return dnn->backward(nullptr, s, x, w, dy, nullptr, dw, nullptr); });
      std::printf("  cudnn plan: %s\n", dnn->describe(s).c_str());
    }
    if (s.groups == s.C) {
      time_case(&rows, n + " fwd relu-fused", flops, "GFLOP/s", iters,
                [&] { return cu::relu_depthwise_forward(nullptr, s, x, w, nullptr, y); });
    }
    for (float* p : {x, w, y, dy, dx, dw}) cu::device_free(p);
  }

  // Memory-bound kernels: GB/s counts bytes read + written once.
  {
    cu::BatchNormShape s{32, 128, 32 * 32};
    size_t n = (size_t)s.N * s.C * s.HW;
    float *x = dev_random(n, 1), *y = dev_random(n, 2), *dy = dev_random(n, 3), *dx = dev_random(n, 4);
    float *g = dev_random(s.C, 5), *b = dev_random(s.C, 6), *rm = dev_random(s.C, 7), *rv = dev_random(s.C, 8);
    float *sm = dev_random(s.C, 9), *si = dev_random(s.C, 10), *dg = dev_random(s.C, 11), *db = dev_random(s.C, 12);
    cu::fill(nullptr, s.C, 1.f, rv);
    time_case(&rows, "batchnorm train fwd 32x128x32x32", 3.0 * n * 4, "GB/s", iters,
              [&] { return cu::batchnorm_forward_train(nullptr, s, x, g, b, 1e-3f, 0.9f, rm, rv, y, sm, si); });
    time_case(&rows, "batchnorm+relu train fwd", 3.0 * n * 4, "GB/s", iters,
              [&] { return cu::batchnorm_relu_forward_train(nullptr, s, x, g, b, 1e-3f, 0.9f, rm, rv, y, sm, si); });
    time_case(&rows, "batchnorm bwd", 5.0 * n * 4, "GB/s", iters,
              [&] { return cu::batchnorm_backward(nullptr, s, x, dy, g, sm, si, dx, dg, db); });
    time_case(&rows, "relu fwd", 2.0 * n * 4, "GB/s", iters, [&] { return cu::relu_forward(nullptr, n, x, y); });
    time_case(&rows, "add fwd", 3.0 * n * 4, "GB/s", iters, [&] { return cu::add_forward(nullptr, n, x, dy, y); });
    cu::PoolShape p{32, 128, 32, 32, 3, 3, 2, 2, 1, 1, 1, 1, 16, 16, false};
    time_case(&rows, "maxpool 3x3 s2 fwd", (n + n / 4) * 4.0, "GB/s", iters,
              [&] { return cu::maxpool_forward(nullptr, p, x, y, nullptr); });
    time_case(&rows, "avgpool 3x3 s2 fwd", (n + n / 4) * 4.0, "GB/s", iters,
              [&] { return cu::avgpool_forward(nullptr, p, x, y); });
    void* out = nullptr;
    cu::device_malloc(&out, sizeof(double));
    time_case(&rows, "sum_squares", n * 4.0, "GB/s", iters,
              [&] { return cu::sum_squares(nullptr, n, x, static_cast<double*>(out)); });
    time_case(&rows, "sgd nesterov update", 5.0 * n * 4, "GB/s", iters,
              [&] { return cu::sgd_momentum_update(nullptr, n, 0.01f, 0.9f, true, 4e-5f, 1.f, y, x, dx); });
    for (float* q : {x, y, dy, dx, g, b, rm, rv, sm, si, dg, db}) cu::device_free(q);
    cu::device_free(out);
  }

  if (json != nullptr) {
    FILE* f = std::fopen(json, "w");
    if (f != nullptr) {
      std::fprintf(f, "{\"iters\": %d, \"rows\": [\n", iters);
      for (size_t i = 0; i < rows.size(); ++i)
        std::fprintf(f, "  {\"case\": \"%s\", \"ms\": %.6f, \"rate\": %.3f, \"unit\": \"%s\"}%s\n",
                     rows[i].name.c_str(), rows[i].ms, rows[i].rate, rows[i].unit, i + 1 < rows.size() ? "," : "");
      std::fprintf(f, "]}\n");
      std::fclose(f);
    }
  }
  return 0;
}
