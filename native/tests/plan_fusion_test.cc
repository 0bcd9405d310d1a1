// Plan-level fusion: [ReLU →] [depthwise →] pointwise → BN chains run as one kernel and Identity /
// Flatten alias their input. The reference is the same graph compiled with fusion off (every node its
// own kernel), and central finite differences through the fused plan.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/info.h"
#include "plan/engine.h"
#include "plan/plan_impl.h"
#include "tests/kernels_util.h"
#include "tests/plan_util.h"
#include "tests/test.h"

using nasnet::ParameterStore;
using nasnet::StepHyper;
using nasnet::StepResult;
using nasnet::plan::CompiledPlan;
using nasnet::test::ChainGraph;
using nasnet::test::Ir;
using nasnet::test::Labels;
using nasnet::test::MustCompile;

namespace {

constexpr int kClasses = 5;
constexpr size_t kImage = 3 * 7 * 9;

std::vector<float> Tensor(const std::shared_ptr<ParameterStore>& s, const std::string& name) {
  return s->Find(name)->data;
}

// Running statistics that are not the initial 0 / 1 (so a folded BN affine is exercised), the same
// for a given seed, copied into place: plans hold the store's storage.
void RandomBnStatistics(const std::shared_ptr<ParameterStore>& store, uint32_t seed) {
  for (const std::string& name : store->Names()) {
    const bool mean = name.find("/mean") != std::string::npos, var = name.find("/var") != std::string::npos;
    if (!mean && !var) continue;
    const std::vector<float> v =
        nasnet::test::random_vec(store->Find(name)->data.size(), seed, mean ? -0.5f : 0.5f, mean ? 0.5f : 2.0f);
    EXPECT_TRUE(store->Set(name, v.data(), v.size(), nullptr).ok());
  }
}

// Predict of two plans on the same images (`images` floats each, `classes` logits each), `runs` times
// on the same memory: bit for bit the same logits every time.
void ExpectSamePredictions(CompiledPlan& a, CompiledPlan& b, int batch, size_t image, int classes, uint32_t seed,
                           int runs = 1) {
  const std::vector<float> x = nasnet::test::random_vec(static_cast<size_t>(batch) * image, seed);
  std::vector<float> la(static_cast<size_t>(batch) * classes, -1.0f), lb(la.size(), -2.0f);
  EXPECT_TRUE(b.Predict(x.data(), lb.data()).ok());
  for (int r = 0; r < runs; ++r) {
    EXPECT_TRUE(a.Predict(x.data(), la.data()).ok());
    EXPECT_TRUE(la == lb);
  }
}

// Fused and unfused plans of the same graph agree: loss, every gradient, the input gradient, the
// parameters, BN running statistics and momentum after three SGD steps, and Evaluate / Predict.
void CompareWithUnfused(int batch) {
  auto fs = std::make_shared<ParameterStore>(), us = std::make_shared<ParameterStore>();
  auto fused = MustCompile(ChainGraph(), fs, batch, true, true, nasnet::OptimizerKind::kSgd, true);
  auto plain = MustCompile(ChainGraph(), us, batch, true, true, nasnet::OptimizerKind::kSgd, false);
  if (!fused || !plain) return;
  EXPECT_TRUE(fused->fused_chains() == 4);  // A, B, C, E
  EXPECT_TRUE(fused->aliased_tensors() == 3);  // skip, flat, A/dp
  // gradients handed through: flat → gap, skip → cat, mix2 → one input, mix → one input
  EXPECT_TRUE(fused->aliased_gradients() == 4);
  EXPECT_TRUE(fused->fused_drop_paths() == 1);  // R/dp, run by mix2 (A/dp feeds a Concat)
  EXPECT_TRUE(plain->fused_chains() == 0 && plain->aliased_tensors() == 0 && plain->aliased_gradients() == 0);
  // Never more memory (this graph's peak is in its unfused stem; NASNet networks are measured in
  // test/engine-fusion.test.ts and bench/step.ts).
  EXPECT_TRUE(fused->activation_bytes() <= plain->activation_bytes());
  std::vector<float> x = nasnet::test::random_vec(batch * kImage, 11 + batch);
  std::vector<int32_t> labels = Labels(batch, kClasses);
  StepHyper h;
  StepResult a, b;
  EXPECT_TRUE(fused->ForwardBackward(x.data(), labels.data(), h, &a).ok());
  EXPECT_TRUE(plain->ForwardBackward(x.data(), labels.data(), h, &b).ok());
  EXPECT_NEAR(a.loss, b.loss, 1e-5 * std::fabs(b.loss));
  EXPECT_NEAR(a.grad_norm, b.grad_norm, 1e-4 * b.grad_norm);
  EXPECT_TRUE(a.correct == b.correct);
  for (const std::string& name : plain->param_names()) {
    const std::vector<float> gf = fused->ParamGrad(name);
    const std::vector<float> gu = plain->ParamGrad(name);
    if (gu.empty()) continue;
    nasnet::test::all_close(("d " + name).c_str(), gf, gu, 1e-3, 1e-5);
  }
  nasnet::test::all_close("d images", fused->InputGrad(), plain->InputGrad(), 1e-3, 1e-6);
  h.lr = 0.1f;
  h.momentum = 0.9f;
  h.weight_decay = 1e-3f;
  h.drop_path_rate = 0.4f;  // the same masks in both plans: seeded by node index and step
  for (int step = 0; step < 3; ++step) {
    h.step = static_cast<uint64_t>(step);
    EXPECT_TRUE(fused->TrainStep(x.data(), labels.data(), h, &a).ok());
    EXPECT_TRUE(plain->TrainStep(x.data(), labels.data(), h, &b).ok());
    EXPECT_NEAR(a.loss, b.loss, 1e-4 * std::fabs(b.loss));
  }
  for (const std::string& name : us->Names())
    nasnet::test::all_close(name.c_str(), Tensor(fs, name), Tensor(us, name), 1e-3, 1e-5);
  nasnet::EvalResult ea, eb;
  EXPECT_TRUE(fused->Evaluate(x.data(), labels.data(), &ea).ok());
  EXPECT_TRUE(plain->Evaluate(x.data(), labels.data(), &eb).ok());
  EXPECT_NEAR(ea.loss, eb.loss, 1e-4 * std::fabs(eb.loss));
  std::vector<float> la(batch * kClasses), lb(batch * kClasses);
  EXPECT_TRUE(fused->Predict(x.data(), la.data()).ok());
  EXPECT_TRUE(plain->Predict(x.data(), lb.data()).ok());
  nasnet::test::all_close("logits", la, lb, 1e-3, 1e-5);
}

}  // namespace

NASNET_TEST(plan_fusion_matches_unfused_plan) {
  // batch 1 leaves threads idle; 2 and 5 split images over threads unevenly.
  for (int batch : {1, 2, 5}) CompareWithUnfused(batch);
}

NASNET_TEST(plan_droppath_add_epilogue_is_exact) {
  // Add(DropPath(relu), pool, DropPath(conv)) fused into one pass: the same floats as the three
  // separate nodes, so a fused plan (no conv-BN chain here) equals the unfused one bit for bit, with
  // DropPath dropping and keeping samples over several steps, and at rate 0 (inactive slots).
  Ir ir;
  ir.Conv("c", "images", 3, 4, 3, 1, 1);
  ir.Node("r", "Relu", "\"c\"");
  ir.Node("dp1", "DropPath", "\"r\"", "\"layer_ratio\": 1");
  ir.Node("mx", "MaxPool", "\"c\"", "\"kernel_shape\": [3, 3], \"pads\": [1, 1, 1, 1]");
  ir.Conv("c2", "mx", 4, 4, 3, 1, 1);
  ir.Node("dp2", "DropPath", "\"c2\"", "\"layer_ratio\": 0.5");
  ir.Node("sum", "Add", "\"dp1\", \"mx\", \"dp2\"");
  ir.Node("gap", "GlobalAveragePool", "\"sum\"");
  ir.Node("flat", "Flatten", "\"gap\"", "\"axis\": 1");
  ir.Gemm("fc", "flat", 4, 3);
  ir.Node("ce", "SoftmaxCrossEntropy", "\"fc\", \"labels\"");
  const std::string json = ir.Json(3, 5, 5, "\"fc\", \"ce\"", "ce");
  auto fs = std::make_shared<ParameterStore>(), us = std::make_shared<ParameterStore>();
  auto fused = MustCompile(json, fs, 6, true, true, nasnet::OptimizerKind::kSgd, true);
  auto plain = MustCompile(json, us, 6, true, true, nasnet::OptimizerKind::kSgd, false);
  if (!fused || !plain) return;
  EXPECT_TRUE(fused->fused_drop_paths() == 2 && plain->fused_drop_paths() == 0);
  std::vector<float> x = nasnet::test::random_vec(6 * 3 * 5 * 5, 5);
  std::vector<int32_t> labels = Labels(6, 3);
  StepHyper h;
  h.lr = 0.1f;
  for (int step = 0; step < 4; ++step) {
    h.step = static_cast<uint64_t>(step);
    h.drop_path_rate = step == 3 ? 0.0f : 0.5f;
    StepResult a, b;
    EXPECT_TRUE(fused->TrainStep(x.data(), labels.data(), h, &a).ok());
    EXPECT_TRUE(plain->TrainStep(x.data(), labels.data(), h, &b).ok());
    EXPECT_TRUE(a.loss == b.loss && a.grad_norm == b.grad_norm);
  }
  for (const std::string& name : us->Names()) EXPECT_TRUE(Tensor(fs, name) == Tensor(us, name));
  EXPECT_TRUE(fused->ForwardBackward(x.data(), labels.data(), h, nullptr).ok());
  EXPECT_TRUE(plain->ForwardBackward(x.data(), labels.data(), h, nullptr).ok());
  EXPECT_TRUE(fused->InputGrad() == plain->InputGrad());
}

NASNET_TEST(plan_fusion_inference_plan_matches_unfused) {
  auto fs = std::make_shared<ParameterStore>(), us = std::make_shared<ParameterStore>();
  auto fused = MustCompile(ChainGraph(), fs, 4, false, false, nasnet::OptimizerKind::kSgd, true);
  auto plain = MustCompile(ChainGraph(), us, 4, false, false, nasnet::OptimizerKind::kSgd, false);
  if (!fused || !plain) return;
  EXPECT_TRUE(fused->fused_chains() == 4);
  RandomBnStatistics(us, 7);
  RandomBnStatistics(fs, 7);
  std::vector<float> x = nasnet::test::random_vec(4 * kImage, 21);
  std::vector<float> la(4 * kClasses), lb(4 * kClasses);
  EXPECT_TRUE(fused->Predict(x.data(), la.data()).ok());
  EXPECT_TRUE(plain->Predict(x.data(), lb.data()).ok());
  nasnet::test::all_close("logits", la, lb, 1e-4, 1e-6);
}

NASNET_TEST(plan_fused_gradient_matches_finite_differences) {
  // As plan_gradient_matches_finite_differences, through the fused kernels: weights of every fused
  // stage, BN scale and bias, and the input.
  auto store = std::make_shared<ParameterStore>();
  const int N = 3;
  auto plan = MustCompile(ChainGraph(), store, N, true, true);
  if (!plan) return;
  EXPECT_TRUE(plan->fused_chains() == 4);
  std::vector<float> x = nasnet::test::random_vec(N * kImage, 8);
  const std::vector<nasnet::test::GradProbe> probes = {
      {"A/dw/w", 4},    {"A/dw/w", 40},    {"A/pw/w", 9},  {"A/bn/scale", 3}, {"A/bn/bias", 7},
      {"B/dw/w", 12},   {"B/dw/w", 130},   {"B/pw/w", 30}, {"C/pw/w", 17},    {"C/bn/scale", 2},
      {"E/dw/w", 20},   {"E/pw/w", 50},    {"E/bn/bias", 1}, {"stem/w", 33}};
  const int nonzero = nasnet::test::CheckFiniteDifferences(*plan, *store, x, Labels(N, kClasses), probes,
                                                           {0, 31, 100, 250, 500}, 3);
  EXPECT_TRUE(nonzero >= 12);  // the check is not vacuous
}

NASNET_TEST(plan_fusion_is_deterministic_and_simd_consistent) {
  // Same seed and thread count: bit-identical steps. Every SIMD level: the same loss within rounding.
  std::vector<float> x = nasnet::test::random_vec(4 * kImage, 3);
  std::vector<int32_t> labels = Labels(4, kClasses);
  auto run = [&]() {
    auto store = std::make_shared<ParameterStore>();
    auto plan = MustCompile(ChainGraph(), store, 4, true);
    StepHyper h;
    StepResult r;
    double last = 0;
    for (int step = 0; step < 2 && plan; ++step) {
      h.step = static_cast<uint64_t>(step);
      EXPECT_TRUE(plan->TrainStep(x.data(), labels.data(), h, &r).ok());
      last = r.loss;
    }
    return std::make_pair(last, store->Find("E/pw/w")->data);
  };
  const auto first = run(), second = run();
  EXPECT_TRUE(first.first == second.first);
  EXPECT_TRUE(first.second == second.second);
  nasnet::test::for_each_simd([&](nasnet::SimdLevel) {
    const auto r = run();
    EXPECT_NEAR(r.first, first.first, 1e-4 * std::fabs(first.first));
  });
}

NASNET_TEST(plan_pad_slice_conv_fusion_is_exact) {
  // Pad → Slice → strided 1×1 Conv (NASNet's shifted factorized-reduction path) in an inference plan
  // runs as the Conv alone on the Pad's input, with the shift as (negative) pads: bit for bit the
  // unfused plan's output, where the sample falls in the padding (odd sizes, a slice starting past
  // the pads) and where it starts before the image (a top pad larger than the slice's start).
  struct Case {
    int H, W, pt, pl, pb, pr, h0, w0, stride;
  };
  const Case cases[] = {
      {8, 8, 0, 0, 1, 1, 1, 1, 2},   // NASNet's: even sizes, the padding never sampled
      {7, 9, 0, 0, 1, 1, 1, 1, 2},   // odd: the last row and column sample the padding
      {9, 7, 2, 1, 0, 3, 1, 3, 3},   // the sample starts one row above the image, two columns in
      {6, 6, 0, 0, 2, 2, 3, 0, 2},   // past the image's last row
      {5, 11, 1, 0, 0, 0, 0, 2, 4},  // stride 4, the Slice keeping the top pad
  };
  constexpr int C = 5, K = 6, N = 3;
  for (const Case& c : cases) {
    Ir ir;
    ir.Node("r", "Relu", "\"images\"");
    ir.Node("pad", "Pad", "\"r\"",
            "\"pads\": [0, 0, " + std::to_string(c.pt) + ", " + std::to_string(c.pl) + ", 0, 0, " +
                std::to_string(c.pb) + ", " + std::to_string(c.pr) + "]");
    ir.Node("shift", "Slice", "\"pad\"",
            "\"starts\": [" + std::to_string(c.h0) + ", " + std::to_string(c.w0) + "], \"ends\": [1000, 1000], " +
                "\"axes\": [2, 3]");
    ir.Conv("conv", "shift", C, K, 1, c.stride, 0);
    ir.Node("flat", "Flatten", "\"conv\"", "\"axis\": 1");
    const std::string json = ir.Json(C, c.H, c.W, "\"flat\"", "");
    auto fs = std::make_shared<ParameterStore>(), us = std::make_shared<ParameterStore>(),
         ts = std::make_shared<ParameterStore>();
    auto fused = MustCompile(json, fs, N, false, false, nasnet::OptimizerKind::kSgd, true);
    auto plain = MustCompile(json, us, N, false, false, nasnet::OptimizerKind::kSgd, false);
    if (!fused || !plain) return;
    EXPECT_TRUE(fused->fused_shifts() == 1 && plain->fused_shifts() == 0);
    us->Find("conv/w")->data = fs->Find("conv/w")->data;
    const int OH = (c.H + c.pt + c.pb - c.h0 - 1) / c.stride + 1, OW = (c.W + c.pl + c.pr - c.w0 - 1) / c.stride + 1;
    std::vector<float> x = nasnet::test::random_vec(static_cast<size_t>(N) * C * c.H * c.W, 17 + c.H);
    std::vector<float> a(static_cast<size_t>(N) * K * OH * OW, -1.0f), b(a.size(), -2.0f);
    EXPECT_TRUE(fused->Predict(x.data(), a.data()).ok());
    EXPECT_TRUE(plain->Predict(x.data(), b.data()).ok());
    EXPECT_TRUE(a == b);
    if (a != b) std::printf("  case H %d W %d pads %d %d %d %d starts %d %d stride %d\n", c.H, c.W, c.pt, c.pl, c.pb,
                            c.pr, c.h0, c.w0, c.stride);
    // Training plans keep the three nodes (their backward runs through the Pad and the Slice).
    ir.Node("gap", "GlobalAveragePool", "\"conv\"");
    ir.Node("gflat", "Flatten", "\"gap\"", "\"axis\": 1");
    ir.Gemm("fc", "gflat", K, 3);
    ir.Node("ce", "SoftmaxCrossEntropy", "\"fc\", \"labels\"");
    auto training = MustCompile(ir.Json(C, c.H, c.W, "\"fc\", \"ce\"", "ce"), ts, N, true);
    if (training) EXPECT_TRUE(training->fused_shifts() == 0);
  }
}

NASNET_TEST(plan_relu_into_strided_convs_is_exact) {
  // NASNet's reduction cells: one Relu of a tensor read by a pointwise chain and by a factorized
  // reduction's two strided 1×1 paths (one of them shifted: Pad → Slice → Conv). An inference plan
  // absorbs the Relu: the chain applies it as its relu_in, the Convs to the pixels they sample. Its
  // logits equal, bit for bit, a training plan's Predict (which keeps every Relu and runs the same
  // chains), at batch 1 (rows split over threads) and 3, and match the unfused plan's. A Relu that
  // another op reads too (a MaxPool) stays.
  for (bool other_reader : {false, true}) {
    Ir ir;
    ir.Stem(6);
    ir.Node("r", "Relu", "\"stem/bn\"");
    ir.Unit("P", "r", 6, 4);
    ir.FactorizedReduction("fr", "r", 6, 8);
    ir.Node("gap1", "GlobalAveragePool", "\"P/bn\"");
    ir.Node("gap2", "GlobalAveragePool", "\"fr/fr_bn\"");
    std::string heads = "\"gap1\", \"gap2\"";
    int channels = 12;
    if (other_reader) {
      ir.Node("mx", "MaxPool", "\"r\"", "\"kernel_shape\": [3, 3], \"strides\": [2, 2], \"pads\": [1, 1, 1, 1]");
      ir.Node("gap3", "GlobalAveragePool", "\"mx\"");
      heads += ", \"gap3\"";
      channels += 6;
    }
    ir.Node("all", "Concat", heads, "\"axis\": 1");
    ir.Node("flat", "Flatten", "\"all\"", "\"axis\": 1");
    ir.Gemm("fc", "flat", channels, kClasses);
    const std::string inference = ir.Json(3, 7, 9, "\"fc\"", "");
    ir.Node("ce", "SoftmaxCrossEntropy", "\"fc\", \"labels\"");
    const std::string training = ir.Json(3, 7, 9, "\"fc\", \"ce\"", "ce");
    for (int batch : {1, 3}) {
      auto fs = std::make_shared<ParameterStore>(), us = std::make_shared<ParameterStore>(),
           ts = std::make_shared<ParameterStore>();
      auto fused = MustCompile(inference, fs, batch, false, false, nasnet::OptimizerKind::kSgd, true);
      auto plain = MustCompile(inference, us, batch, false, false, nasnet::OptimizerKind::kSgd, false);
      auto trained = MustCompile(training, ts, batch, true);
      if (!fused || !plain || !trained) return;
      RandomBnStatistics(fs, 41);
      for (const auto& other : {us, ts})
        for (const std::string& name : fs->Names())
          EXPECT_TRUE(other->Set(name, fs->Find(name)->data.data(), fs->Find(name)->data.size(), nullptr).ok());
      EXPECT_TRUE(fused->relu_strided_convs() == (other_reader ? 0 : 2));
      EXPECT_TRUE(plain->relu_strided_convs() == 0 && trained->relu_strided_convs() == 0);
      ExpectSamePredictions(*fused, *trained, batch, kImage, kClasses, 43 + batch, 2);
      const std::vector<float> x = nasnet::test::random_vec(static_cast<size_t>(batch) * kImage, 47);
      std::vector<float> a(static_cast<size_t>(batch) * kClasses), b(a.size());
      EXPECT_TRUE(fused->Predict(x.data(), a.data()).ok() && plain->Predict(x.data(), b.data()).ok());
      for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(std::fabs(a[i] - b[i]) <= 1e-5f * (1.0f + std::fabs(b[i])));
    }
  }
}

NASNET_TEST(plan_chain_add_fusion_is_exact) {
  // An Add of a fused chain's output (read by the Add alone) and another tensor runs the chain with
  // the other tensor added as its GEMM stores the tiles: an inference plan's logits equal, bit for
  // bit, a training plan's Predict (the same fused chains, the Adds on their own), at batch 1 (each
  // image's GEMM split over the threads) and at batches that split images over threads.
  Ir ir;
  ir.Stem(8);
  ir.Node("r", "Relu", "\"stem/bn\"");
  ir.Unit("P", "r", 8, 8, 3);
  ir.Unit("Q", "r", 8, 8);
  ir.Node("add1", "Add", "\"P/bn\", \"Q/bn\"");  // two chains: the later one runs in the Add
  ir.Node("mx", "MaxPool", "\"stem/bn\"", "\"kernel_shape\": [3, 3], \"strides\": [1, 1], \"pads\": [1, 1, 1, 1]");
  ir.Unit("S", "r", 8, 8, 5);
  ir.Node("add2", "Add", "\"S/bn\", \"mx\"");  // chain first, pool second
  ir.Unit("U", "add1", 8, 8);
  ir.Node("add3", "Add", "\"U/bn\", \"add2\"");  // U/bn is read twice: not fused
  ir.Node("cat", "Concat", "\"add3\", \"U/bn\", \"add1\"", "\"axis\": 1");
  ir.Node("gap", "GlobalAveragePool", "\"cat\"");
  ir.Node("flat", "Flatten", "\"gap\"", "\"axis\": 1");
  ir.Gemm("fc", "flat", 24, 5);
  ir.Node("ce", "SoftmaxCrossEntropy", "\"fc\", \"labels\"");
  const std::string json = ir.Json(3, 7, 9, "\"fc\", \"ce\"", "ce");
  for (int batch : {1, 2, 5}) {
    auto store = std::make_shared<ParameterStore>();
    auto train = MustCompile(json, store, batch, true);
    auto infer = MustCompile(json, store, batch, false);
    if (!train || !infer) return;
    EXPECT_TRUE(infer->fused_adds() == 2 && train->fused_adds() == 0);
    RandomBnStatistics(store, 9);
    ExpectSamePredictions(*infer, *train, batch, 3 * 7 * 9, 5, 30 + batch);
  }
}

NASNET_TEST(plan_concat_inputs_written_in_place_are_exact) {
  // Fused chains (hosted by their BN, or by an Add) whose outputs only a Concat reads write straight
  // into their channel slices of its output: an inference plan's logits equal, bit for bit, a training
  // plan's Predict (every Concat input copied), at batch 1 and at batches split over threads; the
  // Concat's buffer is not given to anything else while its slices wait for the rest.
  Ir ir;
  ir.Stem(8);
  ir.Node("r", "Relu", "\"stem/bn\"");
  ir.Unit("P", "r", 8, 6, 3);  // in place (BN-hosted chain)
  ir.Unit("Q", "r", 8, 4);
  ir.Node("mx", "MaxPool", "\"stem/bn\"", "\"kernel_shape\": [3, 3], \"strides\": [1, 1], \"pads\": [1, 1, 1, 1]");
  ir.Unit("S", "mx", 8, 8);
  ir.Node("add", "Add", "\"S/bn\", \"mx\"");  // in place (Add-hosted chain)
  ir.Node("Q/gap", "GlobalAveragePool", "\"Q/bn\"");  // Q/bn has a second reader: copied
  ir.Unit("T", "r", 8, 5);  // in place, the last input
  ir.Node("cat", "Concat", "\"Q/bn\", \"P/bn\", \"mx\", \"add\", \"T/bn\"", "\"axis\": 1");
  ir.Unit("V", "cat", 31, 8);
  ir.Node("gap", "GlobalAveragePool", "\"V/bn\"");
  ir.Node("mix", "Concat", "\"gap\", \"Q/gap\"", "\"axis\": 1");
  ir.Node("flat", "Flatten", "\"mix\"", "\"axis\": 1");
  ir.Gemm("fc", "flat", 12, 5);
  ir.Node("ce", "SoftmaxCrossEntropy", "\"fc\", \"labels\"");
  const std::string json = ir.Json(3, 7, 9, "\"fc\", \"ce\"", "ce");
  for (int batch : {1, 2, 5}) {
    auto store = std::make_shared<ParameterStore>();
    auto train = MustCompile(json, store, batch, true);
    auto infer = MustCompile(json, store, batch, false);
    if (!train || !infer) return;
    EXPECT_TRUE(infer->concat_in_place() == 3 && train->concat_in_place() == 0);
    RandomBnStatistics(store, 13);
    // Twice on the same memory: a run leaves nothing behind that the next one depends on.
    ExpectSamePredictions(*infer, *train, batch, 3 * 7 * 9, 5, 60 + batch, 2);
  }
}

NASNET_TEST(plan_prepared_chain_weights_follow_parameter_changes) {
  // An inference plan folds each chain's BN into its pointwise weights once and reuses that while
  // the parameters are unchanged: after store.Set, after a training plan's step on the same store,
  // and under another SIMD level, its logits equal (bit for bit) those of a plan compiled after the
  // change, and differ from its logits before it. At batch 1 (the node-parallel forward) and 5 (image
  // lanes, which read their parent's prepared weights).
  Ir ir;
  ir.Stem(8);
  ir.Node("r", "Relu", "\"stem/bn\"");
  ir.Unit("P", "r", 8, 8, 3);
  ir.Unit("Q", "r", 8, 8);
  ir.Node("add", "Add", "\"P/bn\", \"Q/bn\"");
  ir.Node("gap", "GlobalAveragePool", "\"add\"");
  ir.Node("flat", "Flatten", "\"gap\"", "\"axis\": 1");
  ir.Gemm("fc", "flat", 8, 5);
  ir.Node("ce", "SoftmaxCrossEntropy", "\"fc\", \"labels\"");
  const std::string json = ir.Json(3, 7, 9, "\"fc\", \"ce\"", "ce");
  for (int batch : {1, 5}) {
    auto store = std::make_shared<ParameterStore>();
    auto infer = MustCompile(json, store, batch, false);
    auto train = MustCompile(json, store, batch, true);
    if (!infer || !train) return;
    EXPECT_TRUE(infer->fused_chains() >= 2);
    RandomBnStatistics(store, 3);
    const std::vector<float> x = nasnet::test::random_vec(static_cast<size_t>(batch) * 3 * 7 * 9, 40 + batch);
    const std::vector<int32_t> labels(static_cast<size_t>(batch), 2);
    auto logits = [&](CompiledPlan& p) {
      std::vector<float> out(static_cast<size_t>(batch) * 5, -1.0f);
      EXPECT_TRUE(p.Predict(x.data(), out.data()).ok());
      return out;
    };
    auto fresh = [&]() {
      auto p = MustCompile(json, store, batch, false);
      return p ? logits(*p) : std::vector<float>();
    };
    const std::vector<float> before = logits(*infer);
    EXPECT_TRUE(logits(*infer) == before);  // prepared once, reused
    EXPECT_TRUE(fresh() == before);
    // store.Set of one chain's BN scale.
    std::vector<float> scale(8);
    for (int k = 0; k < 8; ++k) scale[k] = 0.5f + 0.25f * k;
    EXPECT_TRUE(store->Set("P/bn/scale", scale.data(), scale.size(), nullptr).ok());
    const std::vector<float> after_set = logits(*infer);
    EXPECT_TRUE(after_set != before);
    EXPECT_TRUE(after_set == fresh());
    // A training step: weights, BN parameters and running statistics all move.
    nasnet::StepHyper hyper;
    hyper.lr = 0.05f;
    EXPECT_TRUE(train->TrainStep(x.data(), labels.data(), hyper, nullptr).ok());
    const std::vector<float> after_step = logits(*infer);
    EXPECT_TRUE(after_step != after_set);
    EXPECT_TRUE(after_step == fresh());
    // Another SIMD level packs differently: the plan's blocks are not read under it.
    nasnet::test::for_each_simd([&](nasnet::SimdLevel) { EXPECT_TRUE(logits(*infer) == fresh()); });
    EXPECT_TRUE(logits(*infer) == after_step);
  }
}
