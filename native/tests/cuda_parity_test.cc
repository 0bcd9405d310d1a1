// Parity of every CUDA kernel (native/cuda) with its CPU twin (native/cpu) on random inputs.
// Each test uploads the same inputs, runs both, and compares with |got - ref| <= atol + rtol*|ref|,
// printing the first mismatches (at most 10). Tolerances, chosen per family:
//   - products and sums (GEMM, conv, linear, pools, BN): atol = rtol = 1e-4. Both sides sum in
//     float with different orders (tiles vs SIMD blocks) over at most a few hundred terms of
//     magnitude <= 1, so differences stay near 1e-6; 1e-4 leaves room without hiding a wrong index.
//   - elementwise, layout, optimizer updates: atol = rtol = 1e-6 (same formula, same order).
//   - masks (dropout, DropPath) and argmax indices: exact.
//   - loss and sum of squares (double reductions): rtol = 1e-6.
// Parameter-gradient outputs start from the same random values on both sides, so the tests also
// check that they accumulate (+=) and that activation gradients are written (=).
// Without a CUDA device each device test prints "skip <name>: no CUDA device: <reason>" and counts as
// passed; the last test prints how many were skipped. The Status tests run everywhere.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/info.h"
#include "core/random.h"
#include "core/step_values.h"
#include "cpu/kernels.h"
#include "cuda/conv_cudnn.h"
#include "cuda/cudnn_api.h"
#include "cuda/kernels.h"
#include "tests/kernels_util.h"
#include "tests/test.h"

namespace {

namespace cu = nasnet::cuda;
namespace cpu = nasnet::cpu;
using nasnet::Status;

int g_device_skips = 0;

const Status& device_status() {
  static Status st = cu::device_available();
  return st;
}

#define REQUIRE_CUDA()                                      \
  do {                                                      \
    if (!device_status().ok()) {                            \
      ++g_device_skips;                                     \
      NASNET_SKIP(device_status().message());               \
    }                                                       \
  } while (0)

#define ASSERT_OK(expr)                                                                        \
  do {                                                                                         \
    Status _s = (expr);                                                                        \
    if (!_s.ok()) {                                                                            \
      std::printf("  %s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr, _s.message().c_str()); \
      ++::nasnet::test::failures();                                                            \
      return;                                                                                  \
    }                                                                                          \
  } while (0)

std::vector<float> rnd(size_t n, uint64_t seed, float lo = -1.f, float hi = 1.f) { return nasnet::test::counter_random(n, seed, 99, lo, hi); }

// A device buffer holding a copy of host data (or zeros), freed on scope exit.
class Dev {
 public:
  explicit Dev(size_t bytes) : bytes_(bytes) {
    status_ = cu::device_malloc(&ptr_, bytes);
    if (status_.ok()) status_ = cu::memset_zero(ptr_, bytes, nullptr);
  }
  template <typename T>
  explicit Dev(const std::vector<T>& host) : Dev(host.size() * sizeof(T)) {
    if (status_.ok()) status_ = cu::copy_to_device(ptr_, host.data(), bytes_, nullptr);
  }
  ~Dev() { cu::device_free(ptr_); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  const Status& status() const { return status_; }
  float* f() const { return static_cast<float*>(ptr_); }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  template <typename T>
  std::vector<T> get(size_t n) const {
    std::vector<T> out(n);
    Status st = cu::copy_to_host(out.data(), ptr_, n * sizeof(T), nullptr);
    if (!st.ok()) {
      std::printf("  copy_to_host failed: %s\n", st.message().c_str());
      ++::nasnet::test::failures();
    }
    return out;
  }
  std::vector<float> get() const { return get<float>(bytes_ / sizeof(float)); }

 private:
  void* ptr_ = nullptr;
  size_t bytes_;
  Status status_;
};

bool close(const char* what, const std::vector<float>& got, const std::vector<float>& ref, double atol, double rtol) { return nasnet::test::all_close(what, got, ref, rtol, atol); }

template <typename T>
bool same(const char* what, const std::vector<T>& got, const std::vector<T>& ref) {
  size_t bad = 0;
  for (size_t i = 0; i < got.size() && i < ref.size(); ++i) {
    if (got[i] != ref[i]) {
      if (bad < 10) std::printf("  %s[%zu]: got %lld, expected %lld\n", what, i, (long long)got[i], (long long)ref[i]);
      ++bad;
    }
  }
  if (bad > 0 || got.size() != ref.size()) {
    std::printf("  %s: %zu of %zu differ\n", what, bad, got.size());
    ++nasnet::test::failures();
    return false;
  }
  return true;
}

#define DEV(name, init) \
  Dev name(init);       \
  ASSERT_OK(name.status())

constexpr double kSumTol = 1e-4;
constexpr double kExactTol = 1e-6;

cpu::ConvShape conv_shape(int N, int C, int H, int W, int K, int kh, int kw, int sh, int sw, int pt, int pl, int pb,
                          int pr, int dh, int dw, int groups) {
  cpu::ConvShape s{N, C, H, W, K, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, groups, 0, 0};
  s.OH = (H + pt + pb - dh * (kh - 1) - 1) / sh + 1;
  s.OW = (W + pl + pr - dw * (kw - 1) - 1) / sw + 1;
  return s;
}

// Forward and backward of one convolution shape on both backends.
void check_conv(const cpu::ConvShape& s, const char* label) {
  std::printf("  conv %s: N=%d C=%d %dx%d K=%d k=%dx%d s=%d,%d pads=%d,%d,%d,%d d=%d,%d g=%d\n", label, s.N, s.C, s.H,
              s.W, s.K, s.kh, s.kw, s.sh, s.sw, s.pt, s.pl, s.pb, s.pr, s.dh, s.dw, s.groups);
  size_t nx = (size_t)s.N * s.C * s.H * s.W, nw = (size_t)s.K * (s.C / s.groups) * s.kh * s.kw,
         ny = (size_t)s.N * s.K * s.OH * s.OW;
  auto x = rnd(nx, 1), w = rnd(nw, 2), b = rnd(s.K, 3), dy = rnd(ny, 4), dw0 = rnd(nw, 5), db0 = rnd(s.K, 6);
  std::vector<float> y(ny), dx(nx), dw = dw0, db = db0;
  cpu::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
  cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
  DEV(gx, x);
  DEV(gw, w);
  DEV(gb, b);
  DEV(gdy, dy);
  DEV(gdw, dw0);
  DEV(gdb, db0);
  DEV(gy, ny * sizeof(float));
  DEV(gdx, nx * sizeof(float));
  ASSERT_OK(cu::conv2d_forward(nullptr, s, gx.f(), gw.f(), gb.f(), gy.f()));
  ASSERT_OK(cu::conv2d_backward(nullptr, s, gx.f(), gw.f(), gdy.f(), gdx.f(), gdw.f(), gdb.f()));
  close("conv y", gy.get(), y, kSumTol, kSumTol);
  close("conv dx", gdx.get(), dx, kSumTol, kSumTol);
  close("conv dw", gdw.get(), dw, kSumTol, kSumTol);
  close("conv db", gdb.get(), db, kSumTol, kSumTol);
}

}  // namespace

// ---- Status plumbing: runs with or without a device ------------------------------------------------

NASNET_TEST(cuda_check_reports_call_error_and_location) {
  void* p = nullptr;
  // 2^62 bytes: cudaErrorMemoryAllocation on a device, a driver error without one; either way a Status.
  Status st = cu::device_malloc(&p, size_t{1} << 62);
  EXPECT_TRUE(!st.ok());
  EXPECT_TRUE(p == nullptr);
  EXPECT_TRUE(st.message().find("cudaMalloc(ptr, bytes == 0 ? 1 : bytes) failed with cuda") != std::string::npos);
  EXPECT_TRUE(st.message().find("memory.cu:") != std::string::npos);
  if (!device_status().ok()) {
    EXPECT_TRUE(device_status().message().rfind("no CUDA device: ", 0) == 0);
    EXPECT_TRUE(device_status().code() == nasnet::StatusCode::kUnavailable);
  } else {
    EXPECT_TRUE(st.code() == nasnet::StatusCode::kResourceExhausted);
  }
}

NASNET_TEST(cuda_cudnn_loader_reports_why) {
  const nasnet::cudnn::Api* api = nullptr;
  Status st = nasnet::cudnn::load_api(&api);
  nasnet::CudnnInfo info = nasnet::cudnn_info();
  if (!info.available) {
    EXPECT_TRUE(!st.ok());
    EXPECT_TRUE(api == nullptr);
    EXPECT_TRUE(st.message() == "cuDNN is not available: " + info.reason);
  } else {
    if (!st.ok()) std::printf("  %s\n", st.message().c_str());
    EXPECT_TRUE(st.ok() && api != nullptr);
  }
}

NASNET_TEST(cuda_cudnn_backend_refuses_asymmetric_pads) {
  EXPECT_TRUE(cu::ConvBackendCudnn::supports(conv_shape(2, 8, 9, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1)));
  EXPECT_TRUE(!cu::ConvBackendCudnn::supports(conv_shape(2, 8, 9, 9, 8, 3, 3, 2, 2, 0, 0, 1, 1, 1, 1, 1)));
  std::unique_ptr<cu::ConvBackendCudnn> backend;
  Status st = cu::ConvBackendCudnn::create(false, &backend);
  if (!device_status().ok() || !nasnet::cudnn_info().available) {
    EXPECT_TRUE(!st.ok() && backend == nullptr);
    EXPECT_TRUE(st.code() == nasnet::StatusCode::kUnavailable);
  }
}

// ---- GEMM and dense ------------------------------------------------------------------------------

NASNET_TEST(cuda_sgemm_matches_cpu_all_transposes) {
  REQUIRE_CUDA();
  const int M = 37, N = 45, K = 70;
  for (int t = 0; t < 4; ++t) {
    bool ta = t & 1, tb = t & 2;
    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
    auto A = rnd((size_t)(ta ? K : M) * lda, 10 + t), B = rnd((size_t)(tb ? N : K) * ldb, 20 + t),
         C = rnd((size_t)M * ldc, 30 + t);
    std::vector<float> ref = C;
    cpu::sgemm(ta, tb, M, N, K, 1.5f, A.data(), lda, B.data(), ldb, 0.5f, ref.data(), ldc);
    DEV(gA, A);
    DEV(gB, B);
    DEV(gC, C);
    ASSERT_OK(cu::sgemm(nullptr, ta, tb, M, N, K, 1.5f, gA.f(), lda, gB.f(), ldb, 0.5f, gC.f(), ldc));
    std::printf("  trans_a=%d trans_b=%d\n", ta, tb);
    close("sgemm C", gC.get(), ref, kSumTol, kSumTol);
  }
  // beta = 0 must not read C (NaN there must not leak)
  std::vector<float> A = rnd(6 * 5, 1), B = rnd(5 * 7, 2), C(6 * 7, NAN), ref(6 * 7, 0.f);
  cpu::sgemm(false, false, 6, 7, 5, 1.f, A.data(), 5, B.data(), 7, 0.f, ref.data(), 7);
  DEV(gA, A);
  DEV(gB, B);
  DEV(gC, C);
  ASSERT_OK(cu::sgemm(nullptr, false, false, 6, 7, 5, 1.f, gA.f(), 5, gB.f(), 7, 0.f, gC.f(), 7));
  close("sgemm beta=0", gC.get(), ref, kSumTol, kSumTol);
}

NASNET_TEST(cuda_linear_matches_cpu) {
  REQUIRE_CUDA();
  const int M = 19, I = 83, O = 10;
  auto x = rnd((size_t)M * I, 1), w = rnd((size_t)O * I, 2), b = rnd(O, 3), dy = rnd((size_t)M * O, 4),
       dw0 = rnd((size_t)O * I, 5), db0 = rnd(O, 6);
  std::vector<float> y((size_t)M * O), dx((size_t)M * I), dw = dw0, db = db0;
  cpu::linear_forward(M, I, O, x.data(), w.data(), b.data(), y.data());
  cpu::linear_backward(M, I, O, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
  DEV(gx, x);
  DEV(gw, w);
  DEV(gb, b);
  DEV(gdy, dy);
  DEV(gdw, dw0);
  DEV(gdb, db0);
  DEV(gy, y.size() * sizeof(float));
  DEV(gdx, dx.size() * sizeof(float));
  ASSERT_OK(cu::linear_forward(nullptr, M, I, O, gx.f(), gw.f(), gb.f(), gy.f()));
  ASSERT_OK(cu::linear_backward(nullptr, M, I, O, gx.f(), gw.f(), gdy.f(), gdx.f(), gdw.f(), gdb.f()));
  close("linear y", gy.get(), y, kSumTol, kSumTol);
  close("linear dx", gdx.get(), dx, kSumTol, kSumTol);
  close("linear dw", gdw.get(), dw, kSumTol, kSumTol);
  close("linear db", gdb.get(), db, kSumTol, kSumTol);
}

// ---- Convolution ---------------------------------------------------------------------------------

NASNET_TEST(cuda_conv_matches_cpu) {
  REQUIRE_CUDA();
  check_conv(conv_shape(2, 6, 9, 11, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1), "3x3 same");
  check_conv(conv_shape(3, 5, 12, 10, 7, 3, 3, 2, 2, 0, 0, 1, 1, 2, 2, 1), "3x3 s2 asym-pad dil2");
  check_conv(conv_shape(2, 8, 7, 7, 12, 5, 3, 1, 2, 2, 1, 2, 1, 1, 1, 4), "5x3 grouped g4");
  check_conv(conv_shape(4, 16, 6, 6, 24, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1), "1x1");
  // long reduction: backward filter splits K (N*OH*OW = 8*32*32 = 8192) and adds partials in order
  check_conv(conv_shape(8, 4, 32, 32, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1), "split-K filter");
  // channel multiplier 2 with groups == C: the general grouped path
  check_conv(conv_shape(2, 4, 8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4), "depthwise x2");
}

NASNET_TEST(cuda_depthwise_matches_cpu) {
  REQUIRE_CUDA();
  check_conv(conv_shape(2, 12, 15, 13, 12, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 12), "dw 5x5 s2");
  check_conv(conv_shape(3, 8, 10, 10, 8, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 8), "dw 3x3 dil2");
  check_conv(conv_shape(2, 6, 11, 11, 6, 7, 7, 2, 2, 2, 3, 3, 2, 1, 1, 6), "dw 7x7 s2 asym");
}

NASNET_TEST(cuda_relu_depthwise_fused_matches_cpu_chain) {
  REQUIRE_CUDA();
  auto s = conv_shape(2, 10, 9, 9, 10, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 10);
  size_t nx = (size_t)s.N * s.C * s.H * s.W, ny = (size_t)s.N * s.K * s.OH * s.OW;
  auto x = rnd(nx, 1), w = rnd((size_t)s.C * 9, 2), b = rnd(s.C, 3);
  std::vector<float> rx(nx), y(ny);
  cpu::relu_forward(nx, x.data(), rx.data());
  cpu::conv2d_forward(s, rx.data(), w.data(), b.data(), y.data());
  DEV(gx, x);
  DEV(gw, w);
  DEV(gb, b);
  DEV(gy, ny * sizeof(float));
  ASSERT_OK(cu::relu_depthwise_forward(nullptr, s, gx.f(), gw.f(), gb.f(), gy.f()));
  close("relu->dw y", gy.get(), y, kSumTol, kSumTol);
}

// The fused backward against the CPU's three steps (relu, depthwise backward on relu(x), relu
// backward), strided, dilated and padded, with a NaN and an exact zero in x (relu_grad's edge cases).
NASNET_TEST(cuda_relu_depthwise_backward_matches_cpu_chain) {
  REQUIRE_CUDA();
  for (const auto& s : {conv_shape(2, 10, 9, 9, 10, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 10),
                        conv_shape(3, 6, 12, 11, 6, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 6),
                        conv_shape(2, 4, 10, 10, 4, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 4)}) {
    size_t nx = (size_t)s.N * s.C * s.H * s.W, nw = (size_t)s.C * s.kh * s.kw, ny = (size_t)s.N * s.K * s.OH * s.OW;
    auto x = rnd(nx, 1), w = rnd(nw, 2), dy = rnd(ny, 3), dw0 = rnd(nw, 4), db0 = rnd(s.C, 5);
    // An exact zero, and for stride 1 a NaN inside the plane. (At the border, or at stride 2, the
    // CPU's padded route also multiplies a NaN by the zero dy of outputs that do not exist, so its
    // filter gradient has NaN at taps that never read the pixel; ours has only the true ones.)
    x[3] = 0.f;
    if (s.sh == 1) x[((size_t)1 * s.H + s.H / 2) * s.W + s.W / 2] = std::nanf("");
    std::vector<float> rx(nx), dx(nx), dw = dw0, db = db0;
    cpu::relu_forward(nx, x.data(), rx.data());
    cpu::conv2d_backward(s, rx.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
    cpu::relu_backward(nx, rx.data(), dx.data(), dx.data());
    DEV(gx, x);
    DEV(gw, w);
    DEV(gdy, dy);
    DEV(gdx, nx * sizeof(float));
    DEV(gdw, dw0);
    DEV(gdb, db0);
    ASSERT_OK(cu::relu_depthwise_backward(nullptr, s, gx.f(), gw.f(), gdy.f(), gdx.f(), gdw.f(), gdb.f()));
    close("relu->dw dx", gdx.get(), dx, kSumTol, kSumTol);  // relu_grad(NaN, g) = g: no NaN in dx
    if (s.sh == 1)
      nasnet::test::nan_close("relu->dw dw", gdw.get(), dw, kSumTol, kSumTol);  // NaN at the taps that read it
    else
      close("relu->dw dw", gdw.get(), dw, kSumTol, kSumTol);
    close("relu->dw db", gdb.get(), db, kSumTol, kSumTol);
  }
}

NASNET_TEST(cuda_conv_backward_is_deterministic) {
  REQUIRE_CUDA();
  auto s = conv_shape(8, 4, 32, 32, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
  size_t nx = (size_t)s.N * s.C * s.H * s.W, nw = (size_t)s.K * s.C * 9, ny = (size_t)s.N * s.K * s.OH * s.OW;
  auto x = rnd(nx, 1), w = rnd(nw, 2), dy = rnd(ny, 3);
  std::vector<float> zeros(nw, 0.f);
  DEV(gx, x);
  DEV(gw, w);
  DEV(gdy, dy);
  DEV(gdw1, zeros);
  DEV(gdw2, zeros);
  ASSERT_OK(cu::conv2d_backward(nullptr, s, gx.f(), gw.f(), gdy.f(), nullptr, gdw1.f(), nullptr));
  ASSERT_OK(cu::conv2d_backward(nullptr, s, gx.f(), gw.f(), gdy.f(), nullptr, gdw2.f(), nullptr));
  auto a = gdw1.get(), b = gdw2.get();
  EXPECT_TRUE(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

NASNET_TEST(cuda_cudnn_conv_matches_our_kernels) {
  REQUIRE_CUDA();
  std::unique_ptr<cu::ConvBackendCudnn> backend;
  Status st = cu::ConvBackendCudnn::create(false, &backend);
#if defined(NASNET_CUDA_EMULATED)
  // The emulated device runs our kernels only; the comparison with cuDNN needs a real GPU. Here:
  // cuDNN reports itself absent, with the reason, and nothing pretends otherwise.
  EXPECT_TRUE(!st.ok() && backend == nullptr && st.code() == nasnet::StatusCode::kUnavailable);
  EXPECT_TRUE(st.message() == "cuDNN is not available: emulated CUDA device: cuDNN not available");
  std::printf("  the emulated device has no cuDNN: compared with our kernels on a real GPU only\n");
  return;
#endif
  if (!st.ok()) NASNET_SKIP(st.message());
  const cpu::ConvShape shapes[] = {conv_shape(2, 6, 9, 11, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),
                                   conv_shape(2, 8, 7, 7, 12, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 4),
                                   conv_shape(2, 12, 15, 13, 12, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 12)};
  for (const auto& s : shapes) {
    size_t nx = (size_t)s.N * s.C * s.H * s.W, nw = (size_t)s.K * (s.C / s.groups) * s.kh * s.kw,
           ny = (size_t)s.N * s.K * s.OH * s.OW;
    auto x = rnd(nx, 1), w = rnd(nw, 2), b = rnd(s.K, 3), dy = rnd(ny, 4), dw0 = rnd(nw, 5);
    DEV(gx, x);
    DEV(gw, w);
    DEV(gb, b);
    DEV(gdy, dy);
    DEV(ours_dw, dw0);
    DEV(dnn_dw, dw0);
    DEV(ours_y, ny * sizeof(float));
    DEV(dnn_y, ny * sizeof(float));
    DEV(ours_dx, nx * sizeof(float));
    DEV(dnn_dx, nx * sizeof(float));
    ASSERT_OK(cu::conv2d_forward(nullptr, s, gx.f(), gw.f(), gb.f(), ours_y.f()));
    ASSERT_OK(cu::conv2d_backward(nullptr, s, gx.f(), gw.f(), gdy.f(), ours_dx.f(), ours_dw.f(), nullptr));
    ASSERT_OK(backend->forward(nullptr, s, gx.f(), gw.f(), gb.f(), dnn_y.f()));
    ASSERT_OK(backend->backward(nullptr, s, gx.f(), gw.f(), gdy.f(), dnn_dx.f(), dnn_dw.f(), nullptr));
    std::printf("  cudnn g=%d: %s\n", s.groups, backend->describe(s).c_str());
    close("cudnn y", dnn_y.get(), ours_y.get(), kSumTol, kSumTol);
    close("cudnn dx", dnn_dx.get(), ours_dx.get(), kSumTol, kSumTol);
    close("cudnn dw", dnn_dw.get(), ours_dw.get(), kSumTol, kSumTol);
  }
  EXPECT_TRUE(backend->cached_shapes() == 3);
}

// ---- Batch normalization -------------------------------------------------------------------------

NASNET_TEST(cuda_batchnorm_matches_cpu) {
  REQUIRE_CUDA();
  cpu::BatchNormShape s{4, 6, 37};
  size_t n = (size_t)s.N * s.C * s.HW;
  // offset inputs: the two-pass variance must not lose precision
  auto x = rnd(n, 1, 2.f, 5.f), gamma = rnd(s.C, 2, 0.5f, 1.5f), beta = rnd(s.C, 3), dy = rnd(n, 4),
       rm0 = rnd(s.C, 5), rv0 = rnd(s.C, 6, 0.5f, 2.f), dg0 = rnd(s.C, 7), db0 = rnd(s.C, 8);
  const float eps = 1e-3f, momentum = 0.9f;
  std::vector<float> y(n), sm(s.C), si(s.C), rm = rm0, rv = rv0, dx(n), dg = dg0, db = db0, ye(n), yr(n), yer(n);
  cpu::batchnorm_forward_train(s, x.data(), gamma.data(), beta.data(), eps, momentum, rm.data(), rv.data(), y.data(),
                               sm.data(), si.data());
  cpu::batchnorm_backward(s, x.data(), dy.data(), gamma.data(), sm.data(), si.data(), dx.data(), dg.data(), db.data());
  cpu::batchnorm_forward_eval(s, x.data(), gamma.data(), beta.data(), rm0.data(), rv0.data(), eps, ye.data());
  cpu::relu_forward(n, y.data(), yr.data());
  cpu::relu_forward(n, ye.data(), yer.data());
  DEV(gx, x);
  DEV(gg, gamma);
  DEV(gbeta, beta);
  DEV(gdy, dy);
  DEV(grm, rm0);
  DEV(grv, rv0);
  DEV(grm2, rm0);
  DEV(grv2, rv0);
  DEV(grm0, rm0);
  DEV(grv0, rv0);
  DEV(gdg, dg0);
  DEV(gdb, db0);
  DEV(gy, n * sizeof(float));
  DEV(gyr, n * sizeof(float));
  DEV(gye, n * sizeof(float));
  DEV(gyer, n * sizeof(float));
  DEV(gdx, n * sizeof(float));
  DEV(gsm, s.C * sizeof(float));
  DEV(gsi, s.C * sizeof(float));
  ASSERT_OK(cu::batchnorm_forward_train(nullptr, s, gx.f(), gg.f(), gbeta.f(), eps, momentum, grm.f(), grv.f(), gy.f(),
                                        gsm.f(), gsi.f()));
  ASSERT_OK(cu::batchnorm_backward(nullptr, s, gx.f(), gdy.f(), gg.f(), gsm.f(), gsi.f(), gdx.f(), gdg.f(), gdb.f()));
  ASSERT_OK(cu::batchnorm_forward_eval(nullptr, s, gx.f(), gg.f(), gbeta.f(), grm0.f(), grv0.f(), eps, gye.f()));
  ASSERT_OK(cu::batchnorm_relu_forward_train(nullptr, s, gx.f(), gg.f(), gbeta.f(), eps, momentum, grm2.f(), grv2.f(),
                                             gyr.f(), nullptr, nullptr));
  ASSERT_OK(cu::batchnorm_relu_forward_eval(nullptr, s, gx.f(), gg.f(), gbeta.f(), grm0.f(), grv0.f(), eps, gyer.f()));
  close("bn y", gy.get(), y, kSumTol, kSumTol);
  close("bn save_mean", gsm.get(), sm, kSumTol, kSumTol);
  close("bn save_invstd", gsi.get(), si, kSumTol, kSumTol);
  close("bn running_mean", grm.get(), rm, kSumTol, kSumTol);
  close("bn running_var", grv.get(), rv, kSumTol, kSumTol);
  close("bn dx", gdx.get(), dx, kSumTol, kSumTol);
  close("bn dgamma", gdg.get(), dg, kSumTol, kSumTol);
  close("bn dbeta", gdb.get(), db, kSumTol, kSumTol);
  close("bn eval y", gye.get(), ye, kSumTol, kSumTol);
  close("bn+relu y", gyr.get(), yr, kSumTol, kSumTol);
  close("bn+relu running_var", grv2.get(), rv, kSumTol, kSumTol);
  close("bn+relu eval y", gyer.get(), yer, kSumTol, kSumTol);
}

// ---- Elementwise ---------------------------------------------------------------------------------

NASNET_TEST(cuda_elementwise_matches_cpu) {
  REQUIRE_CUDA();
  const size_t n = 10007;
  auto a = rnd(n, 1), b = rnd(n, 2), dy = rnd(n, 3);
  std::vector<float> relu(n), drelu(n), sum(n), acc = b, scaled = a, filled(n);
  cpu::relu_forward(n, a.data(), relu.data());
  cpu::relu_backward(n, relu.data(), dy.data(), drelu.data());
  cpu::add_forward(n, a.data(), b.data(), sum.data());
  cpu::accumulate(n, a.data(), acc.data());
  cpu::scale(n, -0.75f, scaled.data());
  cpu::fill(n, 3.25f, filled.data());
  DEV(ga, a);
  DEV(gb, b);
  DEV(gdy, dy);
  DEV(gacc, b);
  DEV(gscaled, a);
  DEV(grelu, n * sizeof(float));
  DEV(gdrelu, n * sizeof(float));
  DEV(gsum, n * sizeof(float));
  DEV(gfill, n * sizeof(float));
  ASSERT_OK(cu::relu_forward(nullptr, n, ga.f(), grelu.f()));
  ASSERT_OK(cu::relu_backward(nullptr, n, grelu.f(), gdy.f(), gdrelu.f()));
  ASSERT_OK(cu::add_forward(nullptr, n, ga.f(), gb.f(), gsum.f()));
  ASSERT_OK(cu::accumulate(nullptr, n, ga.f(), gacc.f()));
  ASSERT_OK(cu::scale(nullptr, n, -0.75f, gscaled.f()));
  ASSERT_OK(cu::fill(nullptr, n, 3.25f, gfill.f()));
  close("relu", grelu.get(), relu, kExactTol, kExactTol);
  close("relu dx", gdrelu.get(), drelu, kExactTol, kExactTol);
  close("add", gsum.get(), sum, kExactTol, kExactTol);
  close("accumulate", gacc.get(), acc, kExactTol, kExactTol);
  close("scale", gscaled.get(), scaled, kExactTol, kExactTol);
  close("fill", gfill.get(), filled, kExactTol, kExactTol);
}

// ---- Pooling -------------------------------------------------------------------------------------

namespace {
cpu::PoolShape pool_shape(int N, int C, int H, int W, int k, int st, int pt, int pl, int pb, int pr, bool incl) {
  cpu::PoolShape s{N, C, H, W, k, k, st, st, pt, pl, pb, pr, 0, 0, incl};
  s.OH = (H + pt + pb - k) / st + 1;
  s.OW = (W + pl + pr - k) / st + 1;
  return s;
}
}  // namespace

// NaN propagates on the device exactly as on the CPU (core/nan.h): ReLU forward and backward, the
// ReLU fused into depthwise and into batch norm, max pooling (value and argmax).
NASNET_TEST(cuda_nan_propagates_like_cpu) {
  REQUIRE_CUDA();
  const float nan = std::nanf("");
  const size_t n = 4099;
  auto a = rnd(n, 1), dy = rnd(n, 2);
  for (size_t i = 0; i < n; i += 97) a[i] = nan;
  std::vector<float> relu(n), drelu(n);
  cpu::relu_forward(n, a.data(), relu.data());
  cpu::relu_backward(n, relu.data(), dy.data(), drelu.data());
  DEV(ga, a);
  DEV(gdy, dy);
  DEV(grelu, n * sizeof(float));
  DEV(gdrelu, n * sizeof(float));
  ASSERT_OK(cu::relu_forward(nullptr, n, ga.f(), grelu.f()));
  ASSERT_OK(cu::relu_backward(nullptr, n, grelu.f(), gdy.f(), gdrelu.f()));
  nasnet::test::nan_close("relu", grelu.get(), relu, 0, 0);
  EXPECT_TRUE(gdrelu.get() == drelu);

  auto s = conv_shape(2, 6, 9, 9, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 6);
  size_t nx = (size_t)s.N * s.C * s.H * s.W;
  auto x = rnd(nx, 3), w = rnd((size_t)s.C * 9, 4);
  for (size_t i : {size_t(5), size_t(300), nx - 2}) x[i] = nan;
  std::vector<float> rx(nx), y(nx);
  cpu::relu_forward(nx, x.data(), rx.data());
  cpu::conv2d_forward(s, rx.data(), w.data(), nullptr, y.data());
  DEV(gx, x);
  DEV(gw, w);
  DEV(gy, nx * sizeof(float));
  ASSERT_OK(cu::relu_depthwise_forward(nullptr, s, gx.f(), gw.f(), nullptr, gy.f()));
  nasnet::test::nan_close("relu->dw y", gy.get(), y, kSumTol, kSumTol);

  auto p = pool_shape(2, 6, 9, 9, 3, 2, 1, 1, 1, 1, false);
  size_t ny = (size_t)p.N * p.C * p.OH * p.OW;
  std::vector<float> ym(ny);
  std::vector<int32_t> am(ny);
  cpu::maxpool_forward(p, x.data(), ym.data(), am.data());
  DEV(gym, ny * sizeof(float));
  DEV(gam, ny * sizeof(int32_t));
  ASSERT_OK(cu::maxpool_forward(nullptr, p, gx.f(), gym.f(), gam.as<int32_t>()));
  nasnet::test::nan_close("maxpool y", gym.get(), ym, 0, 0);
  same("maxpool argmax", gam.get<int32_t>(ny), am);

  // Batch norm + ReLU in inference (running statistics): NaN stays in its own elements.
  cpu::BatchNormShape b{2, 6, 81};
  auto g = rnd(b.C, 5, 0.5f, 1.5f), beta = rnd(b.C, 6), rm = rnd(b.C, 7), rv = rnd(b.C, 8, 0.5f, 2.f);
  std::vector<float> ye(nx), yer(nx);
  cpu::batchnorm_forward_eval(b, x.data(), g.data(), beta.data(), rm.data(), rv.data(), 1e-3f, ye.data());
  cpu::relu_forward(nx, ye.data(), yer.data());
  DEV(gg, g);
  DEV(gbeta, beta);
  DEV(grm, rm);
  DEV(grv, rv);
  DEV(gyer, nx * sizeof(float));
  ASSERT_OK(cu::batchnorm_relu_forward_eval(nullptr, b, gx.f(), gg.f(), gbeta.f(), grm.f(), grv.f(), 1e-3f, gyer.f()));
  nasnet::test::nan_close("bn+relu eval y", gyer.get(), yer, kSumTol, kSumTol);
}

NASNET_TEST(cuda_pools_match_cpu) {
  REQUIRE_CUDA();
  const cpu::PoolShape shapes[] = {pool_shape(2, 5, 11, 9, 3, 2, 1, 1, 1, 1, false),
                                   pool_shape(2, 5, 11, 9, 3, 1, 1, 1, 1, 1, true),
                                   pool_shape(3, 4, 8, 8, 2, 2, 0, 0, 0, 0, true),
                                   pool_shape(2, 3, 10, 7, 3, 2, 0, 1, 1, 0, false)};
  for (const auto& s : shapes) {
    std::printf("  pool %dx%d k=%d s=%d pads=%d,%d,%d,%d include_pad=%d\n", s.H, s.W, s.kh, s.sh, s.pt, s.pl, s.pb,
                s.pr, s.count_include_pad);
    size_t nx = (size_t)s.N * s.C * s.H * s.W, ny = (size_t)s.N * s.C * s.OH * s.OW;
    auto x = rnd(nx, 1), dy = rnd(ny, 2);
    std::vector<float> ym(ny), dxm(nx), ya(ny), dxa(nx);
    std::vector<int32_t> am(ny);
    cpu::maxpool_forward(s, x.data(), ym.data(), am.data());
    cpu::maxpool_backward(s, am.data(), dy.data(), dxm.data());
    cpu::avgpool_forward(s, x.data(), ya.data());
    cpu::avgpool_backward(s, dy.data(), dxa.data());
    DEV(gx, x);
    DEV(gdy, dy);
    DEV(gym, ny * sizeof(float));
    DEV(gam, ny * sizeof(int32_t));
    DEV(gdxm, nx * sizeof(float));
    DEV(gya, ny * sizeof(float));
    DEV(gdxa, nx * sizeof(float));
    ASSERT_OK(cu::maxpool_forward(nullptr, s, gx.f(), gym.f(), gam.as<int32_t>()));
    ASSERT_OK(cu::maxpool_backward(nullptr, s, gam.as<int32_t>(), gdy.f(), gdxm.f()));
    ASSERT_OK(cu::avgpool_forward(nullptr, s, gx.f(), gya.f()));
    ASSERT_OK(cu::avgpool_backward(nullptr, s, gdy.f(), gdxa.f()));
    close("maxpool y", gym.get(), ym, kExactTol, kExactTol);
    same("maxpool argmax", gam.get<int32_t>(ny), am);
    close("maxpool dx", gdxm.get(), dxm, kSumTol, kSumTol);
    close("avgpool y", gya.get(), ya, kSumTol, kSumTol);
    close("avgpool dx", gdxa.get(), dxa, kSumTol, kSumTol);
  }
  const int N = 3, C = 7, HW = 49;
  auto x = rnd((size_t)N * C * HW, 3), dy = rnd((size_t)N * C, 4);
  std::vector<float> y((size_t)N * C), dx((size_t)N * C * HW);
  cpu::global_avgpool_forward(N, C, HW, x.data(), y.data());
  cpu::global_avgpool_backward(N, C, HW, dy.data(), dx.data());
  DEV(gx, x);
  DEV(gdy, dy);
  DEV(gy, y.size() * sizeof(float));
  DEV(gdx, dx.size() * sizeof(float));
  ASSERT_OK(cu::global_avgpool_forward(nullptr, N, C, HW, gx.f(), gy.f()));
  ASSERT_OK(cu::global_avgpool_backward(nullptr, N, C, HW, gdy.f(), gdx.f()));
  close("gap y", gy.get(), y, kSumTol, kSumTol);
  close("gap dx", gdx.get(), dx, kSumTol, kSumTol);
}

// ---- Layout --------------------------------------------------------------------------------------

NASNET_TEST(cuda_layout_matches_cpu) {
  REQUIRE_CUDA();
  const int N = 3, HW = 20, channels[3] = {4, 1, 6}, total = 11;
  auto x0 = rnd((size_t)N * 4 * HW, 1), x1 = rnd((size_t)N * 1 * HW, 2), x2 = rnd((size_t)N * 6 * HW, 3);
  const float* xs[3] = {x0.data(), x1.data(), x2.data()};
  std::vector<float> y((size_t)N * total * HW);
  cpu::concat_forward(N, HW, 3, xs, channels, y.data());
  DEV(g0, x0);
  DEV(g1, x1);
  DEV(g2, x2);
  DEV(gy, y.size() * sizeof(float));
  const float* gxs[3] = {g0.f(), g1.f(), g2.f()};
  ASSERT_OK(cu::concat_forward(nullptr, N, HW, 3, gxs, channels, gy.f()));
  close("concat y", gy.get(), y, kExactTol, kExactTol);
  std::vector<float> d0(x0.size()), d1(x1.size()), d2(x2.size());
  float* dxs[3] = {d0.data(), d1.data(), d2.data()};
  cpu::concat_backward(N, HW, 3, y.data(), channels, dxs);
  DEV(gd0, d0.size() * sizeof(float));
  DEV(gd1, d1.size() * sizeof(float));
  DEV(gd2, d2.size() * sizeof(float));
  float* gdxs[3] = {gd0.f(), gd1.f(), gd2.f()};
  ASSERT_OK(cu::concat_backward(nullptr, N, HW, 3, gy.f(), channels, gdxs));
  close("concat dx0", gd0.get(), d0, kExactTol, kExactTol);
  close("concat dx1", gd1.get(), d1, kExactTol, kExactTol);
  close("concat dx2", gd2.get(), d2, kExactTol, kExactTol);

  // pad (positive and negative = crop), then slice with steps
  const int C = 3, H = 7, W = 6;
  const int pads[2][4] = {{1, 2, 0, 1}, {-1, 1, 2, -2}};
  for (const auto& p : pads) {
    int OH = H + p[0] + p[2], OW = W + p[1] + p[3];
    auto x = rnd((size_t)N * C * H * W, 4), dy = rnd((size_t)N * C * OH * OW, 5);
    std::vector<float> py((size_t)N * C * OH * OW), pdx((size_t)N * C * H * W);
    cpu::pad_forward(N, C, H, W, p[0], p[1], p[2], p[3], x.data(), py.data());
    cpu::pad_backward(N, C, H, W, p[0], p[1], p[2], p[3], dy.data(), pdx.data());
    DEV(gx, x);
    DEV(gdy, dy);
    DEV(gpy, py.size() * sizeof(float));
    DEV(gpdx, pdx.size() * sizeof(float));
    ASSERT_OK(cu::pad_forward(nullptr, N, C, H, W, p[0], p[1], p[2], p[3], gx.f(), gpy.f()));
    ASSERT_OK(cu::pad_backward(nullptr, N, C, H, W, p[0], p[1], p[2], p[3], gdy.f(), gpdx.f()));
    close("pad y", gpy.get(), py, kExactTol, kExactTol);
    close("pad dx", gpdx.get(), pdx, kExactTol, kExactTol);
  }
  const int h0 = 1, w0 = 0, sh = 2, sw = 2, OH = 3, OW = 3;
  auto x = rnd((size_t)N * C * H * W, 6), dy = rnd((size_t)N * C * OH * OW, 7);
  std::vector<float> sy((size_t)N * C * OH * OW), sdx((size_t)N * C * H * W);
  cpu::slice_forward(N, C, H, W, h0, w0, sh, sw, OH, OW, x.data(), sy.data());
  cpu::slice_backward(N, C, H, W, h0, w0, sh, sw, OH, OW, dy.data(), sdx.data());
  DEV(gx, x);
  DEV(gdy, dy);
  DEV(gsy, sy.size() * sizeof(float));
  DEV(gsdx, sdx.size() * sizeof(float));
  ASSERT_OK(cu::slice_forward(nullptr, N, C, H, W, h0, w0, sh, sw, OH, OW, gx.f(), gsy.f()));
  ASSERT_OK(cu::slice_backward(nullptr, N, C, H, W, h0, w0, sh, sw, OH, OW, gdy.f(), gsdx.f()));
  close("slice y", gsy.get(), sy, kExactTol, kExactTol);
  close("slice dx", gsdx.get(), sdx, kExactTol, kExactTol);
}

// ---- Random regularizers -------------------------------------------------------------------------

NASNET_TEST(cuda_dropout_droppath_masks_are_bit_identical) {
  REQUIRE_CUDA();
  const size_t n = 5000;
  const float ratio = 0.3f;
  auto x = rnd(n, 1), dy = rnd(n, 2);
  std::vector<float> y(n), dx(n);
  std::vector<uint8_t> mask(n);
  cpu::dropout_forward(n, ratio, 1234, 7, x.data(), y.data(), mask.data());
  cpu::dropout_backward(n, ratio, mask.data(), dy.data(), dx.data());
  DEV(gx, x);
  DEV(gdy, dy);
  DEV(gy, n * sizeof(float));
  DEV(gdx, n * sizeof(float));
  DEV(gmask, n);
  ASSERT_OK(cu::dropout_forward(nullptr, n, ratio, 1234, 7, gx.f(), gy.f(), gmask.as<uint8_t>()));
  ASSERT_OK(cu::dropout_backward(nullptr, n, ratio, gmask.as<uint8_t>(), gdy.f(), gdx.f()));
  same("dropout mask", gmask.get<uint8_t>(n), mask);
  close("dropout y", gy.get(), y, kExactTol, kExactTol);
  close("dropout dx", gdx.get(), dx, kExactTol, kExactTol);

  const int N = 64;
  const size_t per = 30;
  const float keep = 0.6f;
  auto px = rnd(N * per, 3), pdy = rnd(N * per, 4);
  std::vector<float> py(N * per), pdx(N * per);
  std::vector<uint8_t> km(N);
  cpu::droppath_forward(N, per, keep, 99, 3, px.data(), py.data(), km.data());
  cpu::droppath_backward(N, per, keep, km.data(), pdy.data(), pdx.data());
  DEV(gpx, px);
  DEV(gpdy, pdy);
  DEV(gpy, py.size() * sizeof(float));
  DEV(gpdx, pdx.size() * sizeof(float));
  DEV(gkm, N);
  ASSERT_OK(cu::droppath_forward(nullptr, N, per, keep, 99, 3, gpx.f(), gpy.f(), gkm.as<uint8_t>()));
  ASSERT_OK(cu::droppath_backward(nullptr, N, per, keep, gkm.as<uint8_t>(), gpdy.f(), gpdx.f()));
  same("droppath mask", gkm.get<uint8_t>(N), km);
  close("droppath y", gpy.get(), py, kExactTol, kExactTol);
  close("droppath dx", gpdx.get(), pdx, kExactTol, kExactTol);
}

// ---- Loss ----------------------------------------------------------------------------------------

static void check_softmax_cross_entropy(int N, int K) {
  auto logits = rnd((size_t)N * K, 1, -4.f, 4.f);
  std::vector<int32_t> labels(N);
  for (int i = 0; i < N; ++i) {
    const float* z = &logits[(size_t)i * K];
    labels[i] = i % 2 == 0 ? (int32_t)(std::max_element(z, z + K) - z) : (i * 7) % K;
  }
  for (float smoothing : {0.f, 0.1f}) {
    std::vector<float> dl((size_t)N * K);
    int correct = -1;
    double loss = cpu::softmax_cross_entropy(N, K, logits.data(), labels.data(), smoothing, 0.4f, dl.data(), &correct);
    DEV(gl, logits);
    DEV(glab, labels);
    DEV(gdl, dl.size() * sizeof(float));
    DEV(gloss, sizeof(double));
    DEV(gcorrect, sizeof(int));
    ASSERT_OK(cu::softmax_cross_entropy(nullptr, N, K, gl.f(), glab.as<int32_t>(), smoothing, 0.4f, gdl.f(),
                                        gloss.as<double>(), gcorrect.as<int>()));
    double got = gloss.get<double>(1)[0];
    int got_correct = gcorrect.get<int>(1)[0];
    std::printf("  K=%d smoothing %.1f: loss %.9f (cpu %.9f), correct %d (cpu %d)\n", K, smoothing, got, loss,
                got_correct, correct);
    EXPECT_NEAR(got, loss, 1e-6 * std::fabs(loss));
    EXPECT_TRUE(got_correct == correct);
    close("dlogits", gdl.get(), dl, kExactTol, 1e-5);
  }
}

NASNET_TEST(cuda_softmax_cross_entropy_matches_cpu) {
  REQUIRE_CUDA();
  // K = 10 (fewer classes than the kernel's 128 threads per row) and K = 1000 (each thread takes
  // several; every tree level merges real partials). Every other label is its row's first maximum,
  // so a wrong argmax changes the correct count, which the loss itself would not show.
  for (int K : {10, 1000}) check_softmax_cross_entropy(33, K);
}

// ---- Optimizers ----------------------------------------------------------------------------------

NASNET_TEST(cuda_optimizers_match_cpu) {
  REQUIRE_CUDA();
  const size_t n = 100003;
  auto g = rnd(n, 1), w0 = rnd(n, 2), v0 = rnd(n, 3, -0.1f, 0.1f), ms0 = rnd(n, 4, 0.f, 0.5f),
       mom0 = rnd(n, 5, -0.1f, 0.1f);
  double ss = cpu::sum_squares(n, g.data());
  DEV(gg, g);
  DEV(gss, sizeof(double));
  DEV(gss2, sizeof(double));
  ASSERT_OK(cu::sum_squares(nullptr, n, gg.f(), gss.as<double>()));
  ASSERT_OK(cu::sum_squares(nullptr, n, gg.f(), gss2.as<double>()));
  double got = gss.get<double>(1)[0], again = gss2.get<double>(1)[0];
  EXPECT_NEAR(got, ss, 1e-6 * ss);  // rtol 1e-6 (see the top): the CPU sums blocks of 1024 in float
  EXPECT_TRUE(std::memcmp(&got, &again, sizeof(double)) == 0);  // deterministic
  for (bool nesterov : {false, true}) {
    std::vector<float> w = w0, v = v0;
    cpu::sgd_momentum_update(n, 0.05f, 0.9f, nesterov, 4e-5f, 0.5f, w.data(), g.data(), v.data());
    DEV(gw, w0);
    DEV(gv, v0);
    ASSERT_OK(cu::sgd_momentum_update(nullptr, n, 0.05f, 0.9f, nesterov, 4e-5f, 0.5f, gw.f(), gg.f(), gv.f()));
    close(nesterov ? "nesterov w" : "sgd w", gw.get(), w, kExactTol, kExactTol);
    close(nesterov ? "nesterov v" : "sgd v", gv.get(), v, kExactTol, kExactTol);
  }
  std::vector<float> w = w0, ms = ms0, mom = mom0;
  cpu::rmsprop_update(n, 0.01f, 0.9f, 0.9f, 1.f, 4e-5f, 1.f, w.data(), g.data(), ms.data(), mom.data());
  DEV(gw, w0);
  DEV(gms, ms0);
  DEV(gmom, mom0);
  ASSERT_OK(cu::rmsprop_update(nullptr, n, 0.01f, 0.9f, 0.9f, 1.f, 4e-5f, 1.f, gw.f(), gg.f(), gms.f(), gmom.f()));
  close("rmsprop w", gw.get(), w, kExactTol, kExactTol);
  close("rmsprop ms", gms.get(), ms, kExactTol, kExactTol);
  close("rmsprop mom", gmom.get(), mom, kExactTol, kExactTol);
  // Parameter EMA, the decay read from the step's values on the device as the plan does.
  for (float decay : {0.5f, 0.9999f}) {
    std::vector<float> shadow = v0;
    cpu::ema_update(n, decay, w0.data(), shadow.data());
    nasnet::StepValues values;
    values.ema_decay = decay;
    DEV(gvalues, std::vector<nasnet::StepValues>{values});
    DEV(gw, w0);
    DEV(gshadow, v0);
    ASSERT_OK(cu::ema_update_step(nullptr, n, gvalues.as<nasnet::StepValues>(), gw.f(), gshadow.f()));
    close(decay < 0.9f ? "ema shadow (decay 0.5)" : "ema shadow (decay 0.9999)", gshadow.get(), shadow, kExactTol, kExactTol);
    same("ema leaves w", gw.get(), w0);
  }
}

// Last in this file (tests run in registration order): make the skips visible in one line.
NASNET_TEST(cuda_parity_summary) {
  if (g_device_skips > 0)
    std::printf("cuda parity: skipped %d tests: %s\n", g_device_skips, device_status().message().c_str());
  else
    std::printf("cuda parity: every device test ran on %s\n",
                device_status().ok() && !nasnet::cuda_info().devices.empty()
                    ? nasnet::cuda_info().devices[0].name.c_str()
                    : "the device (now failing: see above)");
}
