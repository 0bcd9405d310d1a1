// Compiled plans end to end: memory planning, forward against hand-sequenced kernel calls, the
// whole-graph gradient against finite differences, training a small NASNet-like graph to overfit a
// batch, parameter sharing between plans, modes and run-time errors.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cpu/kernels.h"
#include "plan/engine.h"
#include "plan/memory.h"
#include "plan/plan_impl.h"
#include "tests/kernels_util.h"
#include "tests/plan_util.h"
#include "tests/test.h"

using nasnet::EvalResult;
using nasnet::ParameterStore;
using nasnet::Plan;
using nasnet::PlanOptions;
using nasnet::Status;
using nasnet::StepHyper;
using nasnet::StepResult;
using nasnet::plan::CompiledPlan;
using nasnet::test::Ir;
using nasnet::test::Labels;
using nasnet::test::MustCompile;

namespace {

// The gradient-check graph: fan-out (relu1 feeds three nodes, flat feeds two heads, cat feeds two),
// both pools, Add, Concat, Pad + Slice shift, DropPath, GAP, Flatten, two Gemm heads, two
// cross-entropies (one label-smoothed) and their WeightedSum.
std::string GradGraph() {
  Ir ir;
  ir.Conv("conv1", "images", 2, 4, 3, 1, 1);
  ir.Bn("bn1", "conv1", 4);
  ir.Node("relu1", "Relu", "\"bn1\"");
  ir.Node("mp", "MaxPool", "\"relu1\"", "\"kernel_shape\": [3, 3], \"strides\": [1, 1], \"pads\": [1, 1, 1, 1]");
  ir.Node("ap", "AveragePool", "\"relu1\"",
          "\"kernel_shape\": [3, 3], \"strides\": [1, 1], \"pads\": [1, 1, 1, 1], \"count_include_pad\": 0");
  ir.Node("add", "Add", "\"mp\", \"ap\"");
  ir.Conv("conv2", "relu1", 4, 4, 1, 1, 0);
  ir.Node("dp", "DropPath", "\"conv2\"", "\"layer_ratio\": 0.5");
  ir.Node("cat", "Concat", "\"add\", \"dp\"", "\"axis\": 1");
  ir.Node("pad", "Pad", "\"cat\"", "\"pads\": [0, 0, 0, 0, 0, 0, 1, 1]");
  ir.Node("shift", "Slice", "\"pad\"", "\"starts\": [1, 1], \"ends\": [7, 7], \"axes\": [2, 3]");
  ir.Node("mix", "Add", "\"cat\", \"shift\"");
  ir.Node("gap", "GlobalAveragePool", "\"mix\"");
  ir.Node("flat", "Flatten", "\"gap\"", "\"axis\": 1");
  ir.Gemm("fc", "flat", 8, 5);
  ir.Gemm("aux", "flat", 8, 5);
  ir.Node("ce", "SoftmaxCrossEntropy", "\"fc\", \"labels\"", "\"label_smoothing\": 0.1");
  ir.Node("aux_ce", "SoftmaxCrossEntropy", "\"aux\", \"labels\"");
  ir.Node("loss", "WeightedSum", "\"ce\", \"aux_ce\"", "\"weights\": [1, 0.4]");
  return ir.Json(2, 6, 6, "\"fc\", \"aux\", \"loss\"", "loss");
}

// The NASNet-like graph: stem conv + BN, a normal cell (two separable branches added, two pools
// added, concatenated), a reduction (factorized reduce with the Pad + Slice shift path, max pool),
// and the head.
void SepBlock(Ir& ir, const std::string& id, const std::string& x, int c, int k, int stride) {
  int pad = k / 2;
  ir.Node(id + "/relu1", "Relu", "\"" + x + "\"");
  ir.Conv(id + "/dw1", id + "/relu1", c, c, k, stride, pad, c);
  ir.Conv(id + "/pw1", id + "/dw1", c, c, 1, 1, 0);
  ir.Bn(id + "/bn1", id + "/pw1", c);
  ir.Node(id + "/relu2", "Relu", "\"" + id + "/bn1\"");
  ir.Conv(id + "/dw2", id + "/relu2", c, c, k, 1, pad, c);
  ir.Conv(id + "/pw2", id + "/dw2", c, c, 1, 1, 0);
  ir.Bn(id + "/bn2", id + "/pw2", c);
}

std::string NasnetLike(bool training) {
  Ir ir;
  ir.Conv("stem/conv", "images", 3, 16, 3, 1, 1);
  ir.Bn("stem/bn", "stem/conv", 16);
  SepBlock(ir, "c0/b0/left", "stem/bn", 16, 3, 1);
  SepBlock(ir, "c0/b0/right", "stem/bn", 16, 5, 1);
  ir.Node("c0/b0/add", "Add", "\"c0/b0/left/bn2\", \"c0/b0/right/bn2\"");
  ir.Node("c0/b0/dp", "DropPath", "\"c0/b0/add\"", "\"layer_ratio\": 0.5");
  ir.Node("c0/b1/avg", "AveragePool", "\"stem/bn\"",
          "\"kernel_shape\": [3, 3], \"strides\": [1, 1], \"pads\": [1, 1, 1, 1], \"count_include_pad\": 0");
  ir.Node("c0/b1/max", "MaxPool", "\"stem/bn\"", "\"kernel_shape\": [3, 3], \"strides\": [1, 1], \"pads\": [1, 1, 1, 1]");
  ir.Node("c0/b1/add", "Add", "\"c0/b1/avg\", \"c0/b1/max\"");
  ir.Node("c0/concat", "Concat", "\"c0/b0/dp\", \"c0/b1/add\"", "\"axis\": 1");
  ir.Node("r1/relu", "Relu", "\"c0/concat\"");
  ir.FactorizedReduction("r1", "r1/relu", 32, 32);
  ir.Node("r1/max", "MaxPool", "\"c0/concat\"", "\"kernel_shape\": [3, 3], \"strides\": [2, 2], \"pads\": [1, 1, 1, 1]");
  ir.Node("r1/concat", "Concat", "\"r1/fr_bn\", \"r1/max\"", "\"axis\": 1");
  ir.Node("head/relu", "Relu", "\"r1/concat\"");
  ir.Node("head/gap", "GlobalAveragePool", "\"head/relu\"");
  ir.Node("head/flatten", "Flatten", "\"head/gap\"", "\"axis\": 1");
  ir.Gemm("head/fc", "head/flatten", 64, 10);
  if (training) {
    ir.Node("loss/ce", "SoftmaxCrossEntropy", "\"head/fc\", \"labels\"");
    return ir.Json(3, 16, 16, "\"head/fc\", \"loss/ce\"", "loss/ce");
  }
  return ir.Json(3, 16, 16, "\"head/fc\"", "");
}

}  // namespace

NASNET_TEST(plan_memory_planner_reuses_dead_buffers) {
  using nasnet::plan::BufferRequest;
  // A chain: each buffer lives from its step to the next one.
  std::vector<BufferRequest> req;
  for (int i = 0; i < 10; ++i) req.push_back({1000, i, i + 1});
  std::vector<size_t> off;
  size_t arena = nasnet::plan::PlanMemory(req, &off);
  EXPECT_TRUE(arena == 2 * 1024);  // two aligned buffers alive at a time
  EXPECT_TRUE(nasnet::plan::NaiveMemory(req) == 10 * 1024);
  // No two overlapping intervals share bytes.
  for (size_t a = 0; a < req.size(); ++a)
    for (size_t b = a + 1; b < req.size(); ++b) {
      bool live = req[a].start <= req[b].end && req[b].start <= req[a].end;
      bool mem = off[a] < off[b] + 1024 && off[b] < off[a] + 1024;
      EXPECT_TRUE(!(live && mem));
    }
}

NASNET_TEST(plan_memory_planner_takes_a_liveness_relation) {
  using nasnet::plan::BufferRequest;
  // Node-parallel plans: buffers of a diamond a → (b, c) → d. b and c may run at once (live together),
  // as may a with b and c (they read it); d's buffer may take a's, which every order has finished
  // with, but not b's or c's. The intervals (all the same) would keep every buffer apart.
  std::vector<BufferRequest> req(4, BufferRequest{1000, 0, 3});
  const auto together = [](size_t x, size_t y) {
    if (x > y) std::swap(x, y);
    return !(x == 0 && y == 3);
  };
  std::vector<size_t> off;
  const size_t arena = nasnet::plan::PlanMemory(req, together, &off);
  EXPECT_TRUE(arena == 3 * 1024);
  EXPECT_TRUE(off[0] == off[3]);
  for (size_t x = 0; x < req.size(); ++x)
    for (size_t y = x + 1; y < req.size(); ++y)
      if (together(x, y)) EXPECT_TRUE(off[x] + 1024 <= off[y] || off[y] + 1024 <= off[x]);
  // The interval planner on the same requests: no reuse.
  EXPECT_TRUE(nasnet::plan::PlanMemory(req, &off) == 4 * 1024);
}

NASNET_TEST(plan_forward_matches_manual_kernels) {
  // conv → BN (running stats) → ReLU → max pool; Add(relu, pool); shift; Concat; GAP; Gemm.
  Ir ir;
  ir.Conv("conv", "images", 3, 4, 3, 1, 1);
  ir.Bn("bn", "conv", 4);
  ir.Node("relu", "Relu", "\"bn\"");
  ir.Node("mp", "MaxPool", "\"relu\"", "\"kernel_shape\": [3, 3], \"strides\": [1, 1], \"pads\": [1, 1, 1, 1]");
  ir.Node("add", "Add", "\"relu\", \"mp\"");
  ir.Node("pad", "Pad", "\"add\"", "\"pads\": [0, 0, 0, 0, 0, 0, 1, 1]");
  ir.Node("shift", "Slice", "\"pad\"", "\"starts\": [1, 1], \"ends\": [6, 6], \"axes\": [2, 3]");
  ir.Node("cat", "Concat", "\"add\", \"shift\"", "\"axis\": 1");
  ir.Node("gap", "GlobalAveragePool", "\"cat\"");
  ir.Node("flat", "Flatten", "\"gap\"", "\"axis\": 1");
  ir.Gemm("fc", "flat", 8, 3);
  const std::string json = ir.Json(3, 5, 5, "\"fc\"", "");
  auto store = std::make_shared<ParameterStore>();
  const int N = 2;
  auto plan = MustCompile(json, store, N, false);
  if (!plan) return;
  EXPECT_TRUE(plan->activation_bytes() < plan->naive_activation_bytes());
  // Non-trivial running statistics and BN affine parameters.
  std::vector<float> mean = {0.1f, -0.2f, 0.3f, 0.0f}, var = {0.5f, 2.0f, 1.5f, 1.0f}, scale = {1.5f, 0.5f, 1.0f, 2.0f},
                     bias = {0.1f, 0.2f, -0.3f, 0.0f};
  EXPECT_TRUE(store->Set("bn/mean", mean.data(), 4, nullptr).ok());
  EXPECT_TRUE(store->Set("bn/var", var.data(), 4, nullptr).ok());
  EXPECT_TRUE(store->Set("bn/scale", scale.data(), 4, nullptr).ok());
  EXPECT_TRUE(store->Set("bn/bias", bias.data(), 4, nullptr).ok());
  std::vector<float> x = nasnet::test::random_vec(N * 3 * 25, 11);
  std::vector<float> logits(N * 3);
  EXPECT_TRUE(plan->Predict(x.data(), logits.data()).ok());

  namespace cpu = nasnet::cpu;
  std::vector<float> w, fw, fb;
  store->Get("conv/w", &w, nullptr);
  store->Get("fc/w", &fw, nullptr);
  store->Get("fc/b", &fb, nullptr);
  cpu::ConvShape cs{N, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5, 5};
  std::vector<float> conv(N * 4 * 25), bn(N * 4 * 25), relu(N * 4 * 25), mp(N * 4 * 25), add(N * 4 * 25),
      pad(N * 4 * 36), shift(N * 4 * 25), cat(N * 8 * 25), gap(N * 8), ref(N * 3);
  cpu::conv2d_forward(cs, x.data(), w.data(), nullptr, conv.data());
  cpu::batchnorm_forward_eval({N, 4, 25}, conv.data(), scale.data(), bias.data(), mean.data(), var.data(), 0.001f,
                              bn.data());
  cpu::relu_forward(relu.size(), bn.data(), relu.data());
  cpu::PoolShape ps{N, 4, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 5, 5, false};
  cpu::maxpool_forward(ps, relu.data(), mp.data(), nullptr);
  cpu::add_forward(add.size(), relu.data(), mp.data(), add.data());
  cpu::pad_forward(N, 4, 5, 5, 0, 0, 1, 1, add.data(), pad.data());
  cpu::slice_forward(N, 4, 6, 6, 1, 1, 1, 1, 5, 5, pad.data(), shift.data());
  const float* ins[2] = {add.data(), shift.data()};
  int chans[2] = {4, 4};
  cpu::concat_forward(N, 25, 2, ins, chans, cat.data());
  cpu::global_avgpool_forward(N, 8, 25, cat.data(), gap.data());
  cpu::linear_forward(N, 8, 3, gap.data(), fw.data(), fb.data(), ref.data());
  nasnet::test::all_close("logits", logits, ref, 1e-6, 1e-7);
  // The shift really moved data: row 0 of the shifted map is row 1 of add.
  EXPECT_NEAR(shift[0], add[5 + 1], 0);
}

NASNET_TEST(plan_gradient_matches_finite_differences) {
  // Every kind of node of GradGraph between the parameters (and the images) and the loss.
  auto store = std::make_shared<ParameterStore>();
  const int N = 3;
  auto plan = MustCompile(GradGraph(), store, N, true, /*input_grad=*/true);
  if (!plan) return;
  std::vector<float> x = nasnet::test::random_vec(N * 2 * 36, 3);
  StepResult base;
  EXPECT_TRUE(plan->ForwardBackward(x.data(), Labels(N, 5).data(), StepHyper(), &base).ok());
  EXPECT_TRUE(base.grad_norm > 0);
  const std::vector<nasnet::test::GradProbe> probes = {
      {"conv1/w", 0}, {"conv1/w", 17}, {"conv1/w", 70}, {"bn1/scale", 1}, {"bn1/bias", 2}, {"conv2/w", 3},
      {"conv2/w", 12}, {"fc/w", 7},     {"fc/b", 1},     {"aux/w", 2},    {"aux/b", 4}};
  // The input entries: d loss / d images (the conv's dx, through every fan-out above it).
  const int nonzero = nasnet::test::CheckFiniteDifferences(*plan, *store, x, Labels(N, 5), probes,
                                                           {0, 13, 40, 101, 200}, 2);
  EXPECT_TRUE(nonzero >= 10);  // the check is not vacuous
}

NASNET_TEST(plan_nasnet_like_overfits_a_batch) {
  auto store = std::make_shared<ParameterStore>();
  const int N = 16;
  auto plan = MustCompile(NasnetLike(true), store, N, true);
  if (!plan) return;
  std::vector<float> x = nasnet::test::random_vec(N * 3 * 256, 21);
  std::vector<int32_t> labels = Labels(N, 10);
  StepHyper h;
  h.lr = 0.05f;
  h.momentum = 0.9f;
  h.weight_decay = 1e-4f;
  h.clip_norm = 5.0f;
  StepResult r;
  double first = 0;
  int steps = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (; steps < 300; ++steps) {
    h.step = static_cast<uint64_t>(steps);
    Status st = plan->TrainStep(x.data(), labels.data(), h, &r);
    if (!st.ok()) {
      std::printf("  %s\n", st.message().c_str());
      ++nasnet::test::failures();
      return;
    }
    if (steps == 0) first = r.loss;
    if (r.loss < 0.05) break;
  }
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / (steps + 1);
  std::printf("  nasnet-like: loss %.3f -> %.4f in %d steps, %.2f ms/step (batch %d); activations %zu bytes, "
              "naive %zu bytes (%.1f%%)\n",
              first, r.loss, steps + 1, ms, N, plan->activation_bytes(), plan->naive_activation_bytes(),
              100.0 * plan->activation_bytes() / plan->naive_activation_bytes());
  EXPECT_TRUE(first > 1.5);
  EXPECT_TRUE(r.loss < 0.05);
  EXPECT_TRUE(r.correct == N);
  EXPECT_TRUE(plan->activation_bytes() < plan->naive_activation_bytes());
  // Inference semantics after training: running statistics, every sample classified.
  EvalResult e;
  EXPECT_TRUE(plan->Evaluate(x.data(), labels.data(), &e).ok());
  EvalResult e2;
  EXPECT_TRUE(plan->Evaluate(x.data(), labels.data(), &e2).ok());
  EXPECT_TRUE(e.loss == e2.loss && e.correct == e2.correct);  // deterministic, no update
  // The inference graph (no loss, no DropPath semantics needed) reuses the same parameters.
  auto infer = MustCompile(NasnetLike(false), store, N, false);
  if (!infer) return;
  EvalResult e3;
  EXPECT_TRUE(infer->Evaluate(x.data(), labels.data(), &e3).ok());
  EXPECT_NEAR(e3.loss, e.loss, 1e-6);
  EXPECT_TRUE(e3.correct == e.correct);
  std::printf("  nasnet-like inference plan: activations %zu bytes, naive %zu bytes\n", infer->activation_bytes(),
              infer->naive_activation_bytes());
}

NASNET_TEST(plan_shares_parameters_between_plans) {
  auto store = std::make_shared<ParameterStore>();
  const std::string json = GradGraph();
  auto train = MustCompile(json, store, 8, true);
  auto eval = MustCompile(json, store, 4, false);
  if (!train || !eval) return;
  std::vector<float> x8 = nasnet::test::random_vec(8 * 2 * 36, 5), x4(x8.begin(), x8.begin() + 4 * 2 * 36);
  std::vector<int32_t> l8 = Labels(8, 5);
  std::vector<float> before(4 * 5), after(4 * 5);
  EXPECT_TRUE(eval->Predict(x4.data(), before.data()).ok());
  StepHyper h;
  h.lr = 0.1f;
  StepResult r;
  EXPECT_TRUE(train->TrainStep(x8.data(), l8.data(), h, &r).ok());
  EXPECT_TRUE(eval->Predict(x4.data(), after.data()).ok());
  double diff = 0;
  for (size_t i = 0; i < after.size(); ++i) diff += std::fabs(after[i] - before[i]);
  EXPECT_TRUE(diff > 1e-4);  // the eval plan sees the update (and the new running statistics)
  // Optimizer state is in the store, under the parameter's name.
  EXPECT_TRUE(store->Find("fc/w#momentum") != nullptr);
  EXPECT_TRUE(store->Find("bn1/mean#momentum") == nullptr);  // not trainable
  // Set / Get round-trip exactly, and both plans read the new value.
  std::vector<float> w, got;
  std::vector<int64_t> shape;
  EXPECT_TRUE(store->Get("fc/w", &w, &shape).ok());
  EXPECT_TRUE(shape.size() == 2 && shape[0] == 5 && shape[1] == 8);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.1f * static_cast<float>(i) - 1.0f / 3.0f;
  EXPECT_TRUE(store->Set("fc/w", w.data(), w.size(), &shape).ok());
  EXPECT_TRUE(store->Get("fc/w", &got, nullptr).ok());
  EXPECT_TRUE(got == w);
  std::vector<float> a(4 * 5), b(4 * 5);
  EXPECT_TRUE(eval->Predict(x4.data(), a.data()).ok());
  std::vector<float> fb;
  store->Get("fc/b", &fb, nullptr);
  std::vector<float> zeros(w.size(), 0.0f);
  EXPECT_TRUE(store->Set("fc/w", zeros.data(), zeros.size(), nullptr).ok());
  EXPECT_TRUE(eval->Predict(x4.data(), b.data()).ok());
  for (int i = 0; i < 4; ++i)
    for (int k = 0; k < 5; ++k) EXPECT_NEAR(b[i * 5 + k], fb[k], 0);  // logits = bias once W = 0
  EXPECT_TRUE(a != b);
  // Errors name what is wrong.
  Status st = store->Set("fc/w", w.data(), 3, nullptr);
  EXPECT_TRUE(!st.ok() && st.message().find("param 'fc/w': expected 40 values but received 3") != std::string::npos);
  std::vector<int64_t> bad = {8, 5};
  st = store->Set("fc/w", w.data(), w.size(), &bad);
  EXPECT_TRUE(!st.ok() && st.message().find("holds shape [5, 8] but received shape [8, 5]") != std::string::npos);
  // A graph declaring a shared name with another shape is refused.
  Ir ir;
  ir.Conv("other/conv", "images", 2, 3, 1, 1, 0);
  ir.Node("other/gap", "GlobalAveragePool", "\"other/conv\"");
  ir.Node("other/flat", "Flatten", "\"other/gap\"");
  ir.Gemm("fc", "other/flat", 3, 5);  // fc/w [5, 3], but the store holds [5, 8]
  std::string other = ir.Json(2, 6, 6, "\"fc\"", "");
  PlanOptions o;
  o.batch = 2;
  o.training = false;
  std::unique_ptr<Plan> p;
  size_t names = store->Names().size();
  st = Plan::Compile(other, store, o, &p);
  EXPECT_TRUE(!st.ok() && st.message() == "param 'fc/w': the store holds shape [5, 8] but the graph declares [5, 3]");
  EXPECT_TRUE(store->Names().size() == names);
}

NASNET_TEST(plan_init_is_deterministic_in_seed_and_name) {
  auto s1 = std::make_shared<ParameterStore>(), s2 = std::make_shared<ParameterStore>();
  auto a = MustCompile(GradGraph(), s1, 2, true);
  auto b = MustCompile(NasnetLike(false), s2, 2, false);  // other graph, other order
  auto c = MustCompile(GradGraph(), s2, 2, false);
  if (!a || !b || !c) return;
  EXPECT_TRUE(s1->Find("conv1/w")->data == s2->Find("conv1/w")->data);
  const auto& w = s1->Find("conv1/w")->data;  // he_normal, fan_in 18: std 1/3
  double sq = 0;
  for (float v : w) sq += v * v;
  double stddev = std::sqrt(sq / w.size());
  EXPECT_TRUE(stddev > 0.2 && stddev < 0.5);
  EXPECT_TRUE(s1->Find("conv1/w")->data != s1->Find("conv2/w")->data);
}

NASNET_TEST(plan_modes_and_runtime_errors) {
  auto store = std::make_shared<ParameterStore>();
  auto plan = MustCompile(GradGraph(), store, 4, true);
  if (!plan) return;
  std::vector<float> x = nasnet::test::random_vec(4 * 2 * 36, 9);
  std::vector<int32_t> labels = Labels(4, 5);
  labels[2] = 5;
  StepResult r;
  Status st = plan->TrainStep(x.data(), labels.data(), StepHyper(), &r);
  EXPECT_TRUE(!st.ok() && st.message() == "labels[2] = 5 is outside [0, 5)");
  EvalResult e;
  labels[2] = -1;
  st = plan->Evaluate(x.data(), labels.data(), &e);
  EXPECT_TRUE(!st.ok() && st.message() == "labels[2] = -1 is outside [0, 5)");
  labels[2] = 1;
  // DropPath: the same step draws the same masks; another step draws others. With rate 0 the
  // training loss is the same at every step.
  StepHyper h;
  h.lr = 0;
  h.drop_path_rate = 0.9f;
  StepResult a, b, c;
  h.step = 1;
  EXPECT_TRUE(plan->ForwardBackward(x.data(), labels.data(), h, &a).ok());
  EXPECT_TRUE(plan->ForwardBackward(x.data(), labels.data(), h, &b).ok());
  double differs = 0;
  for (uint64_t s = 2; s < 8; ++s) {
    h.step = s;
    EXPECT_TRUE(plan->ForwardBackward(x.data(), labels.data(), h, &c).ok());
    differs += std::fabs(c.loss - a.loss);
  }
  EXPECT_TRUE(a.loss == b.loss);
  EXPECT_TRUE(differs > 1e-6);
  // Evaluate ignores DropPath and batch statistics: it does not change with the step, and Predict
  // agrees with the logits behind Evaluate.
  EvalResult e1, e2;
  EXPECT_TRUE(plan->Evaluate(x.data(), labels.data(), &e1).ok());
  EXPECT_TRUE(plan->Evaluate(x.data(), labels.data(), &e2).ok());
  EXPECT_TRUE(e1.loss == e2.loss);
  // An inference plan refuses to train.
  auto infer = MustCompile(GradGraph(), store, 4, false);
  if (!infer) return;
  st = infer->TrainStep(x.data(), labels.data(), StepHyper(), &r);
  EXPECT_TRUE(!st.ok() && st.message().find("training = true") != std::string::npos);
  EvalResult e3;
  EXPECT_TRUE(infer->Evaluate(x.data(), labels.data(), &e3).ok());
  EXPECT_NEAR(e3.loss, e1.loss, 1e-6);  // same graph, same parameters, same inference semantics
  st = infer->Predict(nullptr, nullptr);
  EXPECT_TRUE(!st.ok());
}

NASNET_TEST(plan_rmsprop_trains_and_keeps_state_in_store) {
  auto store = std::make_shared<ParameterStore>();
  auto plan = MustCompile(GradGraph(), store, 6, true, false, nasnet::OptimizerKind::kRmsprop);
  if (!plan) return;
  std::vector<float> x = nasnet::test::random_vec(6 * 2 * 36, 13);
  std::vector<int32_t> labels = Labels(6, 5);
  StepHyper h;
  h.lr = 0.01f;
  StepResult r0, r;
  EXPECT_TRUE(plan->TrainStep(x.data(), labels.data(), h, &r0).ok());
  for (int s = 1; s < 40; ++s) EXPECT_TRUE(plan->TrainStep(x.data(), labels.data(), h, &r).ok());
  EXPECT_TRUE(r.loss < r0.loss);
  EXPECT_TRUE(store->Find("fc/w#ms") != nullptr && store->Find("fc/w#mom") != nullptr);
  EXPECT_TRUE(store->Find("fc/w#momentum") == nullptr);
  // Clipping: grad_norm is reported before clipping.
  h.clip_norm = 1e-6f;
  EXPECT_TRUE(plan->TrainStep(x.data(), labels.data(), h, &r).ok());
  EXPECT_TRUE(r.grad_norm > 1e-6);
}

// Parameter EMA: after k steps every shadow equals the closed form
// s_k = (prod_t d_t) w_0 + sum_t (1 - d_t) (prod_{u > t} d_u) w_{t+1}, d_t = min(decay, (1 + t) / (10 + t)),
// over the values w_t the parameter took (weights and BN running statistics alike); an inference plan
// with use_ema computes what a plan on the shadows as raw parameters computes. On the CPU backend
// and, when a device is usable, the CUDA backend (its step read back through the store).
static void EmaClosedForm(nasnet::BackendKind backend) {
  auto store = std::make_shared<ParameterStore>();
  PlanOptions o;
  o.batch = 6;
  o.seed = 5;
  o.backend = backend;
  o.ema_decay = 0.5f;  // (1 + t) / (10 + t) reaches 0.5 at t = 8: both regimes within 12 steps
  std::unique_ptr<CompiledPlan> train;
  Status created = CompiledPlan::Create(GradGraph(), store, o, false, &train);
  EXPECT_TRUE(created.ok());
  if (!train) {
    std::printf("  compile failed: %s\n", created.message().c_str());
    return;
  }
  const std::vector<std::string> names = {"fc/w", "conv1/w", "bn1/scale", "bn1/mean", "bn1/var"};
  std::vector<std::vector<std::vector<float>>> values(names.size());  // [param][t] = w_t
  auto record = [&] {
    for (size_t p = 0; p < names.size(); ++p) {
      std::vector<float> v;
      store->Get(names[p], &v, nullptr);
      values[p].push_back(v);
    }
  };
  record();
  for (size_t p = 0; p < names.size(); ++p) {
    std::vector<float> s0;
    EXPECT_TRUE(store->Get(names[p] + "#ema", &s0, nullptr).ok());
    EXPECT_TRUE(s0 == values[p][0]);  // the shadow starts equal to the parameter
  }
  std::vector<float> x = nasnet::test::random_vec(6 * 2 * 36, 17);
  std::vector<int32_t> labels = Labels(6, 5);
  const int k = 12;
  StepHyper h;
  h.lr = 0.05f;
  h.drop_path_rate = 0.2f;
  StepResult r;
  for (int t = 0; t < k; ++t) {
    h.step = static_cast<uint64_t>(t);
    EXPECT_TRUE(train->TrainStep(x.data(), labels.data(), h, &r).ok());
    record();
  }
  std::vector<double> d(k);
  for (int t = 0; t < k; ++t) d[t] = std::min(0.5, (1.0 + t) / (10.0 + t));
  for (size_t p = 0; p < names.size(); ++p) {
    std::vector<float> got;
    EXPECT_TRUE(store->Get(names[p] + "#ema", &got, nullptr).ok());
    std::vector<double> want(got.size(), 0.0);
    double all = 1;
    for (int t = 0; t < k; ++t) all *= d[t];
    for (size_t i = 0; i < want.size(); ++i) want[i] = all * values[p][0][i];
    for (int t = 0; t < k; ++t) {
      double later = 1;
      for (int u = t + 1; u < k; ++u) later *= d[u];
      for (size_t i = 0; i < want.size(); ++i) want[i] += (1 - d[t]) * later * values[p][t + 1][i];
    }
    nasnet::test::all_close(("ema of " + names[p]).c_str(), got, want, 1e-5, 1e-6);
    EXPECT_TRUE(got != values[p][k]);  // the average lags the parameter
  }
  // use_ema: the same logits as a plan whose raw parameters are the shadows.
  PlanOptions e;
  e.batch = 6;
  e.training = false;
  e.backend = backend;
  e.use_ema = true;
  std::unique_ptr<CompiledPlan> averaged;
  EXPECT_TRUE(CompiledPlan::Create(GradGraph(), store, e, false, &averaged).ok());
  auto copy = std::make_shared<ParameterStore>();
  for (const std::string& name : store->Names()) {
    if (name.find('#') != std::string::npos) continue;
    std::vector<float> v;
    std::vector<int64_t> shape;
    EXPECT_TRUE(store->Get(name + "#ema", &v, &shape).ok());
    EXPECT_TRUE(copy->Set(name, v.data(), v.size(), &shape).ok());
  }
  PlanOptions plain = e;
  plain.use_ema = false;
  std::unique_ptr<CompiledPlan> raw;
  EXPECT_TRUE(CompiledPlan::Create(GradGraph(), copy, plain, false, &raw).ok());
  if (!averaged || !raw) return;
  std::vector<float> a(6 * 5), b(6 * 5);
  EXPECT_TRUE(averaged->Predict(x.data(), a.data()).ok());
  EXPECT_TRUE(raw->Predict(x.data(), b.data()).ok());
  nasnet::test::all_close("use_ema logits", a, b, 1e-6, 1e-7);
  EvalResult ea, eb;
  EXPECT_TRUE(averaged->Evaluate(x.data(), labels.data(), &ea).ok() && raw->Evaluate(x.data(), labels.data(), &eb).ok());
  EXPECT_NEAR(ea.loss, eb.loss, 1e-6 * std::fabs(eb.loss));
  EXPECT_TRUE(ea.correct == eb.correct);
  // Wrong uses are errors that say why.
  std::unique_ptr<Plan> bad;
  e.use_ema = true;
  Status st = Plan::Compile(GradGraph(), std::make_shared<ParameterStore>(), e, &bad);
  EXPECT_TRUE(!st.ok() && st.message().find("the store holds no 'conv1/w#ema'") != std::string::npos);
  PlanOptions both = o;
  both.use_ema = true;
  st = Plan::Compile(GradGraph(), store, both, &bad);
  EXPECT_TRUE(!st.ok() && st.message().find("use_ema applies to inference plans") != std::string::npos);
  PlanOptions infer = e;
  infer.use_ema = false;
  infer.ema_decay = 0.9f;
  st = Plan::Compile(GradGraph(), store, infer, &bad);
  EXPECT_TRUE(!st.ok() && st.message().find("an EMA decay applies to training plans") != std::string::npos);
}

NASNET_TEST(plan_ema_shadows_follow_the_closed_form) { EmaClosedForm(nasnet::BackendKind::kCpu); }

NASNET_TEST(cuda_plan_ema_shadows_follow_the_closed_form) {
  std::shared_ptr<nasnet::plan::Backend> device;
  Status st = nasnet::plan::CudaBackend(0, &device);
  if (!st.ok()) NASNET_SKIP(st.message());
  EmaClosedForm(nasnet::BackendKind::kCuda);
}

NASNET_TEST(plan_merges_common_subexpressions) {
  // Two branches each apply ReLU (and the same average pool) to one tensor, as NASNet cells do.
  // The plan computes each once: the same loss, gradients and memory as the graph written with the
  // sharing by hand.
  auto graph = [](bool twins) {
    Ir ir;
    ir.Conv("stem", "images", 2, 4, 3, 1, 1);
    ir.Node("a/relu", "Relu", "\"stem\"");
    ir.Conv("a/conv", "a/relu", 4, 4, 3, 1, 1);
    if (twins) ir.Node("b/relu", "Relu", "\"stem\"");
    ir.Conv("b/conv", twins ? "b/relu" : "a/relu", 4, 4, 1, 1, 0);
    ir.Node("a/avg", "AveragePool", "\"stem\"", "\"kernel_shape\": [3, 3], \"strides\": [1, 1], \"pads\": [1, 1, 1, 1]");
    if (twins)
      ir.Node("b/avg", "AveragePool", "\"stem\"", "\"kernel_shape\": [3, 3], \"strides\": [1, 1], \"pads\": [1, 1, 1, 1]");
    ir.Node("sum", "Add", twins ? "\"a/conv\", \"b/conv\", \"a/avg\", \"b/avg\"" : "\"a/conv\", \"b/conv\", \"a/avg\", \"a/avg\"");
    ir.Node("gap", "GlobalAveragePool", "\"sum\"");
    ir.Node("flat", "Flatten", "\"gap\"");
    ir.Gemm("fc", "flat", 4, 3);
    ir.Node("ce", "SoftmaxCrossEntropy", "\"fc\", \"labels\"");
    return ir.Json(2, 5, 5, "\"fc\", \"ce\"", "ce");
  };
  auto s1 = std::make_shared<ParameterStore>(), s2 = std::make_shared<ParameterStore>();
  auto twins = MustCompile(graph(true), s1, 3, true, true);
  auto plain = MustCompile(graph(false), s2, 3, true, true);
  if (!twins || !plain) return;
  EXPECT_TRUE(twins->merged_nodes() == 2);  // b/relu into a/relu, b/avg into a/avg
  EXPECT_TRUE(plain->merged_nodes() == 0);
  EXPECT_TRUE(twins->activation_bytes() == plain->activation_bytes());
  std::vector<float> x = nasnet::test::random_vec(3 * 2 * 25, 4);
  std::vector<int32_t> labels = Labels(3, 3);
  StepResult a, b;
  EXPECT_TRUE(twins->ForwardBackward(x.data(), labels.data(), StepHyper(), &a).ok());
  EXPECT_TRUE(plain->ForwardBackward(x.data(), labels.data(), StepHyper(), &b).ok());
  EXPECT_NEAR(a.loss, b.loss, 1e-6);
  nasnet::test::all_close("d stem/w", twins->ParamGrad("stem/w"), plain->ParamGrad("stem/w"), 1e-5, 1e-7);
  nasnet::test::all_close("d images", twins->InputGrad(), plain->InputGrad(), 1e-5, 1e-7);
}

NASNET_TEST(plan_staged_batches_on_cpu_equal_arrays_given_directly) {
  // A CPU plan reads a staged batch from its input slot as it reads the caller's arrays: the same
  // results bit for bit, the caller's arrays free to change once Stage returns, and a batch runs once.
  using nasnet::test::ChainGraph;
  auto s1 = std::make_shared<ParameterStore>(), s2 = std::make_shared<ParameterStore>();
  auto direct = MustCompile(ChainGraph(), s1, 2, true);
  auto staged = MustCompile(ChainGraph(), s2, 2, true);
  if (!direct || !staged) return;
  StepHyper h;
  h.lr = 0.05f;
  for (int i = 0; i < 4; ++i) {
    std::vector<float> x = nasnet::test::random_vec(2 * 3 * 7 * 9, 40 + i);
    std::vector<int32_t> labels = Labels(2, 5);
    labels[0] = i % 5;
    h.step = static_cast<uint64_t>(i);
    StepResult a, b;
    EXPECT_TRUE(direct->TrainStep(x.data(), labels.data(), h, &a).ok());
    Plan::StagedBatch batch;
    EXPECT_TRUE(staged->Stage(x.data(), labels.data(), &batch).ok());
    std::fill(x.begin(), x.end(), 1e30f);  // copied: the step must not see this
    EXPECT_TRUE(staged->TrainStep(batch, h, &b).ok());
    EXPECT_TRUE(a.loss == b.loss && a.grad_norm == b.grad_norm && a.correct == b.correct);
    EXPECT_TRUE(!staged->TrainStep(batch, h, &b).ok());  // ran already
  }
  for (const std::string& name : s1->Names()) {
    std::vector<float> va, vb;
    EXPECT_TRUE(s1->Get(name, &va, nullptr).ok() && s2->Get(name, &vb, nullptr).ok());
    EXPECT_TRUE(va == vb);
  }
}
