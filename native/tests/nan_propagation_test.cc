// NaN propagates (core/nan.h): every kernel that selects or clamps (ReLU forward and backward, max
// pooling on its scalar border path and its vectorized interior, the fused unit's on-the-fly ReLU,
// batch norm's variance clamp) keeps a NaN a NaN under every SIMD level, and so a whole training step
// on a NaN image reports a NaN loss and gradient norm (fused and unfused plans), as does Evaluate,
// while Predict gives NaN exactly in the rows of the bad image. Checks are exact (a NaN or not).
#include <cmath>
#include <limits>
#include <vector>

#include "core/nan.h"
#include "cpu/kernels.h"
#include "tests/kernels_util.h"
#include "tests/plan_util.h"
#include "tests/test.h"

using namespace nasnet;
using namespace nasnet::test;

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

PoolShape Pool(int N, int C, int H, int W, int k, int stride, int pad) {
  PoolShape s{};
  s.N = N, s.C = C, s.H = H, s.W = W, s.kh = k, s.kw = k, s.sh = stride, s.sw = stride;
  s.pt = s.pl = s.pb = s.pr = pad;
  s.OH = (H + 2 * pad - k) / stride + 1, s.OW = (W + 2 * pad - k) / stride + 1;
  return s;
}

// Does output (oh, ow)'s window contain input (h, w)?
bool Covers(const PoolShape& s, int oh, int ow, int h, int w) {
  const int h0 = oh * s.sh - s.pt, w0 = ow * s.sw - s.pl;
  return h >= h0 && h < h0 + s.kh && w >= w0 && w < w0 + s.kw;
}

}  // namespace

NASNET_TEST(nan_rules_scalar) {
  EXPECT_TRUE(std::isnan(relu_value(kNaN)));
  EXPECT_TRUE(relu_value(-2.0f) == 0.0f && !std::signbit(relu_value(-0.0f)) && relu_value(3.0f) == 3.0f);
  EXPECT_TRUE(relu_grad(kNaN, 5.0f) == 5.0f && relu_grad(-1.0f, 5.0f) == 0.0f && relu_grad(2.0f, 5.0f) == 5.0f);
  EXPECT_TRUE(max_takes(kNaN, 1.0f) && max_takes(kNaN, kNaN) && !max_takes(1.0f, kNaN) && max_takes(2.0f, 1.0f));
}

NASNET_TEST(nan_relu_forward_backward) {
  for (size_t n : {size_t(5), size_t(100003)}) {  // below and above the parallel threshold
    std::vector<float> x = random_vec(n, 3), dy = random_vec(n, 4), y(n), dx(n);
    for (size_t i = 0; i < n; i += 7) x[i] = kNaN;
    cpu::relu_forward(n, x.data(), y.data());
    cpu::relu_backward(n, y.data(), dy.data(), dx.data());
    int bad = 0;
    for (size_t i = 0; i < n; ++i) {
      if (i % 7 == 0) bad += !std::isnan(y[i]) || dx[i] != dy[i];
      else bad += y[i] != (x[i] > 0 ? x[i] : 0.0f) || dx[i] != (x[i] > 0 ? dy[i] : 0.0f);
    }
    EXPECT_TRUE(bad == 0);
  }
}

// A NaN at every position of a small plane, one at a time, for windows and strides that exercise
// the border path and the vectorized interior: exactly the outputs whose window covers the NaN are
// NaN, with the NaN as their argmax, and the rest are unchanged.
NASNET_TEST(nan_max_pool_every_position_every_simd_level) {
  for_each_simd([](SimdLevel) {
    for (const PoolShape& s : {Pool(1, 1, 9, 21, 3, 1, 1), Pool(1, 1, 11, 19, 5, 2, 2), Pool(1, 1, 8, 24, 7, 1, 3),
                               Pool(1, 1, 9, 9, 3, 2, 0)}) {
      const size_t HW = static_cast<size_t>(s.H) * s.W, OHW = static_cast<size_t>(s.OH) * s.OW;
      const std::vector<float> base = random_vec(HW, 17);
      std::vector<float> y0(OHW);
      std::vector<int32_t> a0(OHW);
      cpu::maxpool_forward(s, base.data(), y0.data(), a0.data());
      int bad = 0;
      for (int h = 0; h < s.H; ++h)
        for (int w = 0; w < s.W; ++w) {
          std::vector<float> x = base, y(OHW);
          std::vector<int32_t> a(OHW);
          x[h * s.W + w] = kNaN;
          cpu::maxpool_forward(s, x.data(), y.data(), a.data());
          for (int oh = 0; oh < s.OH; ++oh)
            for (int ow = 0; ow < s.OW; ++ow) {
              const size_t o = static_cast<size_t>(oh) * s.OW + ow;
              if (Covers(s, oh, ow, h, w)) bad += !std::isnan(y[o]) || a[o] != h * s.W + w;
              else bad += y[o] != y0[o] || a[o] != a0[o];
            }
        }
      EXPECT_TRUE(bad == 0);
      // Two NaNs in one window: the argmax is the later one in scan order (rows, then columns).
      std::vector<float> x = base, y(OHW);
      std::vector<int32_t> a(OHW);
      x[0] = kNaN;
      x[1] = kNaN;
      cpu::maxpool_forward(s, x.data(), y.data(), a.data());
      const int o = 0;  // output (0, 0) covers input (0, 0) and (0, 1) in every shape above
      EXPECT_TRUE(std::isnan(y[o]) && a[o] == 1);
    }
  });
}

NASNET_TEST(nan_avg_pool_and_depthwise_every_simd_level) {
  for_each_simd([](SimdLevel) {
    const PoolShape s = Pool(2, 3, 10, 18, 3, 1, 1);
    const size_t nx = static_cast<size_t>(s.N) * s.C * s.H * s.W, ny = static_cast<size_t>(s.N) * s.C * s.OH * s.OW;
    std::vector<float> x = random_vec(nx, 5), y(ny);
    const int h = 4, w = 9, plane = 4;  // image 1, channel 1
    x[plane * s.H * s.W + h * s.W + w] = kNaN;
    cpu::avgpool_forward(s, x.data(), y.data());
    int bad = 0;
    for (size_t o = 0; o < ny; ++o) {
      const int p = static_cast<int>(o / (s.OH * s.OW)), oh = static_cast<int>(o / s.OW % s.OH), ow = static_cast<int>(o % s.OW);
      bad += std::isnan(y[o]) != (p == plane && Covers(s, oh, ow, h, w));
    }
    EXPECT_TRUE(bad == 0);
    // Depthwise 5×5 (the masked-load path on AVX-512) reads the same NaN.
    ConvShape c{s.N, s.C, s.H, s.W, s.C, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, s.C, s.H, s.W};
    std::vector<float> wt = random_vec(static_cast<size_t>(s.C) * 25, 6), yc(nx);
    cpu::conv2d_forward(c, x.data(), wt.data(), nullptr, yc.data());
    bad = 0;
    for (size_t o = 0; o < nx; ++o) {
      const int p = static_cast<int>(o / (s.H * s.W)), oh = static_cast<int>(o / s.W % s.H), ow = static_cast<int>(o % s.W);
      bad += std::isnan(yc[o]) != (p == plane && std::abs(oh - h) <= 2 && std::abs(ow - w) <= 2);
    }
    EXPECT_TRUE(bad == 0);
  });
}

// The fused unit: a NaN in one input image. In training its batch statistics carry the NaN into
// every output; in inference (running statistics) only that image's outputs are NaN, and its
// backward gives NaN weight gradients.
NASNET_TEST(nan_fused_conv_bn_every_variant_every_simd_level) {
  for_each_simd([](SimdLevel) {
    for (int variant = 0; variant < 4; ++variant) {
      FusedConvBnShape s{};
      s.N = 3, s.C = 4, s.H = 7, s.W = 9, s.K = 6;
      s.relu_in = variant & 1;
      s.has_depthwise = variant & 2;
      s.OH = s.H, s.OW = s.W;
      if (s.has_depthwise) s.dw = ConvShape{s.N, s.C, s.H, s.W, s.C, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, s.C, s.H, s.W};
      const size_t nx = static_cast<size_t>(s.N) * s.C * s.H * s.W, ny = static_cast<size_t>(s.N) * s.K * s.OH * s.OW;
      std::vector<float> x = random_vec(nx, 7), wdw = random_vec(static_cast<size_t>(s.C) * 9, 8),
                         wpw = random_vec(static_cast<size_t>(s.K) * s.C, 9), gamma(s.K, 1.0f), beta(s.K, 0.0f),
                         rmean(s.K, 0.0f), rvar(s.K, 1.0f), t(nx), z(ny), y(ny), mean(s.K), invstd(s.K);
      x[static_cast<size_t>(1) * s.C * s.H * s.W + 2 * s.W + 3] = kNaN;  // image 1, channel 0, (2, 3)
      cpu::fused_conv_bn_forward_eval(s, x.data(), wdw.data(), wpw.data(), gamma.data(), beta.data(), rmean.data(),
                                      rvar.data(), 1e-3f, y.data());
      const size_t per_image = ny / s.N;
      int nan_in_image[3] = {0, 0, 0};
      for (size_t o = 0; o < ny; ++o) nan_in_image[o / per_image] += std::isnan(y[o]);
      EXPECT_TRUE(nan_in_image[0] == 0 && nan_in_image[1] > 0 && nan_in_image[2] == 0);
      cpu::fused_conv_bn_forward_train(s, x.data(), wdw.data(), wpw.data(), gamma.data(), beta.data(), 1e-3f, 0.9f,
                                       rmean.data(), rvar.data(), t.data(), z.data(), y.data(), mean.data(),
                                       invstd.data());
      int finite = 0;
      for (float v : y) finite += std::isfinite(v);
      EXPECT_TRUE(finite == 0);
      EXPECT_TRUE(std::isnan(rmean[0]) && std::isnan(rvar[0]));
      std::vector<float> dy = random_vec(ny, 10), dx(nx), gdw(wdw.size(), 0.0f), gpw(wpw.size(), 0.0f),
                         dgamma(s.K, 0.0f), dbeta(s.K, 0.0f);
      cpu::fused_conv_bn_backward(s, x.data(), wdw.data(), wpw.data(), gamma.data(), t.data(), z.data(), mean.data(),
                                  invstd.data(), dy.data(), dx.data(), gdw.data(), gpw.data(), dgamma.data(),
                                  dbeta.data());
      EXPECT_TRUE(std::isnan(gpw[0]) && std::isnan(dgamma[0]));
    }
  });
}

NASNET_TEST(nan_batchnorm_loss_and_norm) {
  const BatchNormShape s{2, 3, 10};
  std::vector<float> x = random_vec(60, 12), g(3, 1.0f), b(3, 0.0f), rm(3, 0.0f), rv(3, 1.0f), y(60), m(3), is(3);
  x[15] = kNaN;  // image 0, channel 1
  cpu::batchnorm_forward_train(s, x.data(), g.data(), b.data(), 1e-3f, 0.9f, rm.data(), rv.data(), y.data(), m.data(),
                               is.data());
  int bad = 0;
  for (size_t i = 0; i < 60; ++i) bad += std::isnan(y[i]) != ((i / 10) % 3 == 1);
  EXPECT_TRUE(bad == 0);
  std::vector<float> logits = random_vec(12, 13);
  std::vector<int32_t> labels = {0, 1, 2};
  logits[5] = kNaN;
  EXPECT_TRUE(std::isnan(cpu::softmax_cross_entropy(3, 4, logits.data(), labels.data(), 0.1f, 1.0f, nullptr, nullptr)));
  std::vector<float> grads = random_vec(50000, 14);
  grads[49999] = std::numeric_limits<float>::infinity();
  EXPECT_TRUE(std::isinf(cpu::sum_squares(grads.size(), grads.data())));
  grads[123] = kNaN;
  EXPECT_TRUE(std::isnan(cpu::sum_squares(grads.size(), grads.data())));
}

namespace {

// Conv → BN → ReLU → max pool → ReLU → depthwise → pointwise → BN → ReLU → GAP → dense → loss:
// every selecting kernel between a bad image and the loss, fused or not, and NASNet's head (a ReLU
// before the pooling, which turned every NaN into 0 before NaN propagated).
std::string NanGraph() {
  Ir ir;
  ir.Conv("stem", "images", 3, 8, 3, 1, 1);
  ir.Bn("stem/bn", "stem", 8);
  ir.Node("r1", "Relu", "\"stem/bn\"");
  ir.Node("pool", "MaxPool", "\"r1\"", "\"kernel_shape\": [3, 3], \"strides\": [1, 1], \"pads\": [1, 1, 1, 1]");
  ir.Node("r2", "Relu", "\"pool\"");
  ir.Conv("dw", "r2", 8, 8, 3, 1, 1, 8);
  ir.Conv("pw", "dw", 8, 8, 1, 1, 0);
  ir.Bn("bn", "pw", 8);
  ir.Node("head_relu", "Relu", "\"bn\"");
  ir.Node("gap", "GlobalAveragePool", "\"head_relu\"");
  ir.Node("flat", "Flatten", "\"gap\"", "\"axis\": 1");
  ir.Gemm("fc", "flat", 8, 4);
  ir.Node("ce", "SoftmaxCrossEntropy", "\"fc\", \"labels\"");
  return ir.Json(3, 6, 6, "\"fc\", \"ce\"", "ce");
}

}  // namespace

NASNET_TEST(nan_plan_step_reports_nan_loss_and_norm) {
  for (bool fuse : {true, false}) {
    const int batch = 4;
    auto store = std::make_shared<ParameterStore>();
    auto train = MustCompile(NanGraph(), store, batch, true, false, OptimizerKind::kSgd, fuse);
    auto infer = MustCompile(NanGraph(), store, batch, false, false, OptimizerKind::kSgd, fuse);
    if (!train || !infer) return;
    std::vector<float> x = random_vec(static_cast<size_t>(batch) * 108, 21);
    const std::vector<int32_t> labels = Labels(batch, 4);
    // Inference first (running statistics are still finite): NaN exactly in the bad image's row.
    x[108 * 2 + 40] = kNaN;
    std::vector<float> logits(batch * 4);
    EXPECT_TRUE(infer->Predict(x.data(), logits.data()).ok());
    for (int i = 0; i < batch * 4; ++i) EXPECT_TRUE(std::isnan(logits[i]) == (i / 4 == 2));
    EvalResult ev;
    EXPECT_TRUE(infer->Evaluate(x.data(), labels.data(), &ev).ok());
    EXPECT_TRUE(std::isnan(ev.loss));
    StepResult r;
    EXPECT_TRUE(train->TrainStep(x.data(), labels.data(), StepHyper(), &r).ok());
    EXPECT_TRUE(std::isnan(r.loss) && std::isnan(r.grad_norm));
    // The NaN step updated the weights with NaN gradients: a clean batch now reports NaN too.
    std::vector<float> clean = random_vec(static_cast<size_t>(batch) * 108, 22);
    EXPECT_TRUE(train->TrainStep(clean.data(), labels.data(), StepHyper(), &r).ok());
    EXPECT_TRUE(std::isnan(r.loss));
  }
}

// A learning rate of 1e30 blows the weights up: a following step's loss is not finite (before NaN
// propagated, the head's ReLU turned the overflow into zeros and the loss looked finite).
NASNET_TEST(nan_plan_huge_learning_rate_diverges_visibly) {
  const int batch = 4;
  auto store = std::make_shared<ParameterStore>();
  auto train = MustCompile(NanGraph(), store, batch, true);
  if (!train) return;
  std::vector<float> x = random_vec(static_cast<size_t>(batch) * 108, 23);
  const std::vector<int32_t> labels = Labels(batch, 4);
  StepHyper h;
  h.lr = 1e30f;
  StepResult r;
  bool finite = true;
  for (int step = 0; step < 3 && finite; ++step) {
    h.step = step;
    EXPECT_TRUE(train->TrainStep(x.data(), labels.data(), h, &r).ok());
    finite = std::isfinite(r.loss);
  }
  EXPECT_TRUE(!finite);
}
