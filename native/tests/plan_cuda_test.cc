// Whole plans on the CUDA backend against the CPU backend: the same graph, seed and data compiled
// on both. Runs on a real device and on the emulated one (-DNASNET_CUDA_EMULATED=ON, what CI runs);
// without a device each test prints "skip <test>: no CUDA device: ..." and counts as passed.
//
// Tolerances: the two backends sum in float in different orders (SIMD blocks and per-image merges
// against tiles, block trees and whole-batch kernels) over at most a few hundred terms per output
// here, so values agree to ~1e-6 relative; after three optimizer steps the differences are
// amplified by the learning rate and BN's 1/std, hence 1e-3 relative there. Masks (DropPath,
// Dropout) are drawn from the same counter-based generator: equal, so losses stay close.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>
#include <thread>

#include "plan/backend.h"
#include "plan/engine.h"
#include "plan/plan_impl.h"
#include "tests/kernels_util.h"
#include "tests/plan_util.h"
#include "tests/test.h"

using nasnet::BackendKind;
using nasnet::ParameterStore;
using nasnet::Status;
using nasnet::StepHyper;
using nasnet::StepResult;
using nasnet::plan::CompiledPlan;
using nasnet::test::ChainGraph;
using nasnet::test::Ir;
using nasnet::test::Labels;
using nasnet::test::MustCompile;

namespace {

const Status& CudaStatus() {
  static Status st = [] {
    std::shared_ptr<nasnet::plan::Backend> b;
    return nasnet::plan::CudaBackend(0, &b);
  }();
  return st;
}

#define REQUIRE_CUDA()                                       \
  do {                                                       \
    if (!CudaStatus().ok()) NASNET_SKIP(CudaStatus().message()); \
  } while (0)

// The ops ChainGraph lacks, on 2 channels of 6×6: a dense 3×3 conv with bias, a grouped conv, Pad
// (and a cropping Pad), a strided Slice, average pooling with and without the padding counted, max
// pooling with stride 2 and asymmetric pads, Dropout, an auxiliary head without bias, and the two
// losses combined by WeightedSum.
std::string OpsGraph() {
  Ir ir;
  ir.Param("c1/w", "4, 2, 3, 3", "{\"kind\": \"he_normal\", \"fanIn\": 18}", true, true);
  ir.Param("c1/b", "4", "{\"kind\": \"uniform\", \"limit\": 0.1}", true, false);
  ir.Node("c1", "Conv", "\"images\"", "\"kernel_shape\": [3, 3], \"pads\": [1, 1, 1, 1]", "\"c1/w\", \"c1/b\"");
  ir.Bn("c1/bn", "c1", 4);
  ir.Node("r1", "Relu", "\"c1/bn\"");
  ir.Conv("g", "r1", 4, 4, 3, 1, 1, 2);
  ir.Node("pad", "Pad", "\"g\"", "\"pads\": [0, 0, 1, 2, 0, 0, 1, 0]");
  ir.Node("crop", "Pad", "\"pad\"", "\"pads\": [0, 0, -1, 0, 0, 0, -1, -2]");
  ir.Node("sl", "Slice", "\"r1\"", "\"starts\": [1, 0], \"ends\": [6, 6], \"axes\": [2, 3], \"steps\": [2, 2]");
  ir.Node("avg", "AveragePool", "\"crop\"",
          "\"kernel_shape\": [3, 3], \"strides\": [2, 2], \"pads\": [1, 1, 1, 1], \"count_include_pad\": 0");
  ir.Node("avg2", "AveragePool", "\"crop\"",
          "\"kernel_shape\": [3, 3], \"strides\": [2, 2], \"pads\": [1, 1, 1, 1], \"count_include_pad\": 1");
  ir.Node("mx", "MaxPool", "\"r1\"", "\"kernel_shape\": [3, 3], \"strides\": [2, 2], \"pads\": [0, 0, 1, 1]");
  ir.Node("sum", "Add", "\"avg\", \"avg2\"");
  ir.Node("cat", "Concat", "\"sum\", \"mx\", \"sl\"", "\"axis\": 1");
  ir.Node("drop", "Dropout", "\"cat\"", "\"ratio\": 0.25");
  ir.Node("gap", "GlobalAveragePool", "\"drop\"");
  ir.Node("flat", "Flatten", "\"gap\"", "\"axis\": 1");
  ir.Gemm("fc", "flat", 12, 5);
  ir.Node("ce", "SoftmaxCrossEntropy", "\"fc\", \"labels\"", "\"label_smoothing\": 0.1");
  ir.Node("aux/gap", "GlobalAveragePool", "\"r1\"");
  ir.Node("aux/flat", "Flatten", "\"aux/gap\"", "\"axis\": 1");
  ir.Param("aux/w", "5, 4", "{\"kind\": \"uniform\", \"limit\": 0.5}", true, true);
  ir.Node("aux/fc", "Gemm", "\"aux/flat\"", "\"transB\": 1", "\"aux/w\"");
  ir.Node("aux/ce", "SoftmaxCrossEntropy", "\"aux/fc\", \"labels\"");
  ir.Node("loss", "WeightedSum", "\"ce\", \"aux/ce\"", "\"weights\": [1, 0.4]");
  return ir.Json(2, 6, 6, "\"fc\", \"loss\"", "loss");
}

std::vector<float> Get(ParameterStore& s, const std::string& name) {
  std::vector<float> v;
  EXPECT_TRUE(s.Get(name, &v, nullptr).ok());
  return v;
}

// One graph on the CPU and on CUDA: a forward/backward (loss, norm, every gradient, the input
// gradient), three training steps with DropPath/Dropout and clipping (every stored tensor after),
// Evaluate and Predict.
void CompareBackends(const std::string& graph, int batch, int channels_hw, int classes, nasnet::OptimizerKind opt,
                     bool fuse) {
  auto cs = std::make_shared<ParameterStore>(), gs = std::make_shared<ParameterStore>();
  auto cpu = MustCompile(graph, cs, batch, true, true, opt, fuse, BackendKind::kCpu);
  auto gpu = MustCompile(graph, gs, batch, true, true, opt, fuse, BackendKind::kCuda);
  if (!cpu || !gpu) return;
  EXPECT_TRUE(gpu->backend_name() == "cuda");
  EXPECT_TRUE(gpu->fused_chains() == cpu->fused_chains());
  std::vector<float> x = nasnet::test::random_vec(static_cast<size_t>(batch) * channels_hw, 17 + batch);
  std::vector<int32_t> labels = Labels(batch, classes);
  StepHyper h;
  StepResult a, b;
  EXPECT_TRUE(gpu->ForwardBackward(x.data(), labels.data(), h, &a).ok());
  EXPECT_TRUE(cpu->ForwardBackward(x.data(), labels.data(), h, &b).ok());
  EXPECT_NEAR(a.loss, b.loss, 1e-5 * std::fabs(b.loss));
  EXPECT_NEAR(a.grad_norm, b.grad_norm, 1e-4 * b.grad_norm);
  EXPECT_TRUE(a.correct == b.correct);
  int grads = 0;
  for (const std::string& name : cpu->param_names()) {
    const std::vector<float> gc = cpu->ParamGrad(name);
    if (gc.empty()) continue;
    nasnet::test::all_close(("d " + name).c_str(), gpu->ParamGrad(name), gc, 1e-3, 1e-5);
    ++grads;
  }
  EXPECT_TRUE(grads > 4);
  nasnet::test::all_close("d images", gpu->InputGrad(), cpu->InputGrad(), 1e-3, 1e-6);
  h.lr = 0.1f;
  h.weight_decay = 1e-3f;
  h.clip_norm = 1.0f;  // clips: the gradient norms here are above 1
  h.drop_path_rate = 0.4f;
  h.nesterov = true;
  for (int step = 0; step < 3; ++step) {
    h.step = static_cast<uint64_t>(step);
    EXPECT_TRUE(gpu->TrainStep(x.data(), labels.data(), h, &a).ok());
    EXPECT_TRUE(cpu->TrainStep(x.data(), labels.data(), h, &b).ok());
    EXPECT_NEAR(a.loss, b.loss, 1e-4 * std::fabs(b.loss));
  }
  int tensors = 0;
  for (const std::string& name : cs->Names()) {
    nasnet::test::all_close(name.c_str(), Get(*gs, name), Get(*cs, name), 1e-3, 1e-5);
    ++tensors;
  }
  EXPECT_TRUE(tensors == static_cast<int>(gs->Names().size()));
  nasnet::EvalResult ea, eb;
  EXPECT_TRUE(gpu->Evaluate(x.data(), labels.data(), &ea).ok());
  EXPECT_TRUE(cpu->Evaluate(x.data(), labels.data(), &eb).ok());
  EXPECT_NEAR(ea.loss, eb.loss, 1e-4 * std::fabs(eb.loss));
  EXPECT_TRUE(ea.correct == eb.correct);
  std::vector<float> la(static_cast<size_t>(batch) * classes), lb(la.size());
  EXPECT_TRUE(gpu->Predict(x.data(), la.data()).ok());
  EXPECT_TRUE(cpu->Predict(x.data(), lb.data()).ok());
  nasnet::test::all_close("logits", la, lb, 1e-3, 1e-5);
}

}  // namespace

NASNET_TEST(cuda_plan_fused_chains_match_cpu) {
  REQUIRE_CUDA();
  for (int batch : {1, 3}) CompareBackends(ChainGraph(), batch, 3 * 7 * 9, 5, nasnet::OptimizerKind::kSgd, true);
}

NASNET_TEST(cuda_plan_unfused_matches_cpu) {
  REQUIRE_CUDA();
  CompareBackends(ChainGraph(), 2, 3 * 7 * 9, 5, nasnet::OptimizerKind::kSgd, false);
}

NASNET_TEST(cuda_plan_every_op_matches_cpu_with_rmsprop) {
  REQUIRE_CUDA();
  CompareBackends(OpsGraph(), 3, 2 * 6 * 6, 5, nasnet::OptimizerKind::kRmsprop, true);
}

NASNET_TEST(cuda_plan_inference_plan_matches_cpu) {
  REQUIRE_CUDA();
  auto cs = std::make_shared<ParameterStore>(), gs = std::make_shared<ParameterStore>();
  auto cpu = MustCompile(ChainGraph(), cs, 4, false, false, nasnet::OptimizerKind::kSgd, true, BackendKind::kCpu);
  auto gpu = MustCompile(ChainGraph(), gs, 4, false, false, nasnet::OptimizerKind::kSgd, true, BackendKind::kCuda);
  if (!cpu || !gpu) return;
  // Running statistics that are not the initial 0 / 1, set through the store on both.
  for (const std::string& name : cs->Names()) {
    const bool mean = name.find("/mean") != std::string::npos, var = name.find("/var") != std::string::npos;
    if (!mean && !var) continue;
    std::vector<float> v = nasnet::test::random_vec(Get(*cs, name).size(), 7, mean ? -0.5f : 0.5f, mean ? 0.5f : 2.0f);
    EXPECT_TRUE(cs->Set(name, v.data(), v.size(), nullptr).ok());
    EXPECT_TRUE(gs->Set(name, v.data(), v.size(), nullptr).ok());
  }
  std::vector<float> x = nasnet::test::random_vec(4 * 3 * 7 * 9, 21);
  std::vector<float> la(4 * 5), lb(4 * 5);
  for (int run = 0; run < 3; ++run) {  // eager, captured, replayed
    EXPECT_TRUE(gpu->Predict(x.data(), la.data()).ok());
    EXPECT_TRUE(cpu->Predict(x.data(), lb.data()).ok());
    nasnet::test::all_close("logits", la, lb, 1e-4, 1e-6);
  }
  EXPECT_TRUE(gpu->graph_status().find("predict: replayed") != std::string::npos);
}

NASNET_TEST(cuda_plan_graph_replay_equals_eager_steps) {
  // A step captured once and replayed with new per-step values (learning rate, DropPath rate,
  // random streams, clipping) gives bit-identical results to the same step launched kernel by
  // kernel: the captured graph is the eager step.
  REQUIRE_CUDA();
  auto s1 = std::make_shared<ParameterStore>(), s2 = std::make_shared<ParameterStore>();
  auto eager = MustCompile(OpsGraph(), s1, 3, true, false, nasnet::OptimizerKind::kSgd, true, BackendKind::kCuda, false);
  auto graph = MustCompile(OpsGraph(), s2, 3, true, false, nasnet::OptimizerKind::kSgd, true, BackendKind::kCuda, true);
  if (!eager || !graph) return;
  std::vector<float> x = nasnet::test::random_vec(3 * 2 * 6 * 6, 4);
  std::vector<int32_t> labels = Labels(3, 5);
  StepHyper h;
  for (int step = 0; step < 5; ++step) {
    h.step = static_cast<uint64_t>(step);
    h.lr = 0.2f / (1 + step);
    h.clip_norm = step % 2 ? 0.5f : 0.0f;
    h.momentum = 0.8f + 0.02f * step;
    StepResult a, b;
    EXPECT_TRUE(eager->TrainStep(x.data(), labels.data(), h, &a).ok());
    EXPECT_TRUE(graph->TrainStep(x.data(), labels.data(), h, &b).ok());
    EXPECT_TRUE(a.loss == b.loss && a.grad_norm == b.grad_norm && a.correct == b.correct);
    nasnet::EvalResult ea, eb;
    EXPECT_TRUE(eager->Evaluate(x.data(), labels.data(), &ea).ok());
    EXPECT_TRUE(graph->Evaluate(x.data(), labels.data(), &eb).ok());
    EXPECT_TRUE(ea.loss == eb.loss && ea.correct == eb.correct);
  }
  for (const std::string& name : s1->Names()) EXPECT_TRUE(Get(*s1, name) == Get(*s2, name));
  const std::string status = graph->graph_status();
  EXPECT_TRUE(status.find("train: replayed as a CUDA graph") != std::string::npos);
  EXPECT_TRUE(status.find("evaluate: replayed as a CUDA graph") != std::string::npos);
  EXPECT_TRUE(eager->graph_status().find("off") != std::string::npos);
}

NASNET_TEST(cuda_plan_store_syncs_with_host_and_cpu_plans) {
  // Parameters live on the device between steps; the store's host copy follows on demand: Get reads
  // back what CUDA steps wrote, Set reaches the next CUDA step, a CPU plan on the same store
  // continues from the device's values and a CUDA plan from the CPU's, and dispose writes back.
  REQUIRE_CUDA();
  auto store = std::make_shared<ParameterStore>(), ref = std::make_shared<ParameterStore>();
  auto gpu = MustCompile(ChainGraph(), store, 2, true, false, nasnet::OptimizerKind::kSgd, true, BackendKind::kCuda);
  auto cpu = MustCompile(ChainGraph(), store, 2, true, false, nasnet::OptimizerKind::kSgd, true, BackendKind::kCpu);
  auto ref_plan = MustCompile(ChainGraph(), ref, 2, true, false, nasnet::OptimizerKind::kSgd, true, BackendKind::kCpu);
  if (!gpu || !cpu || !ref_plan) return;
  std::vector<float> x = nasnet::test::random_vec(2 * 3 * 7 * 9, 9);
  std::vector<int32_t> labels = Labels(2, 5);
  StepHyper h;
  h.lr = 0.05f;
  StepResult r;
  const std::vector<float> w0 = Get(*store, "E/pw/w");
  // cuda, cuda, cpu, cuda on `store`; cpu x4 on `ref`.
  for (int step = 0; step < 4; ++step) {
    h.step = static_cast<uint64_t>(step);
    CompiledPlan& p = step == 2 ? *cpu : *gpu;
    EXPECT_TRUE(p.TrainStep(x.data(), labels.data(), h, &r).ok());
    EXPECT_TRUE(ref_plan->TrainStep(x.data(), labels.data(), h, &r).ok());
    if (step == 0) EXPECT_TRUE(Get(*store, "E/pw/w") != w0);  // read back from the device
  }
  for (const std::string& name : ref->Names())
    nasnet::test::all_close(name.c_str(), Get(*store, name), Get(*ref, name), 1e-3, 1e-5);
  // Set on the host, then a CUDA step: it must start from the new values.
  for (const char* name : {"fc/w", "fc/b"}) {
    std::vector<float> zeros(Get(*store, name).size(), 0.0f);
    EXPECT_TRUE(store->Set(name, zeros.data(), zeros.size(), nullptr).ok());
    EXPECT_TRUE(ref->Set(name, zeros.data(), zeros.size(), nullptr).ok());
  }
  EXPECT_TRUE(gpu->ForwardBackward(x.data(), labels.data(), h, &r).ok());
  StepResult rr;
  EXPECT_TRUE(ref_plan->ForwardBackward(x.data(), labels.data(), h, &rr).ok());
  EXPECT_NEAR(r.loss, std::log(5.0), 1e-5);  // zero classifier weights, zero bias: uniform logits
  EXPECT_NEAR(r.loss, rr.loss, 1e-5);
  // Dispose: the device copies are written back and freed; the store keeps the values.
  h.step = 9;
  EXPECT_TRUE(gpu->TrainStep(x.data(), labels.data(), h, &r).ok());
  EXPECT_TRUE(ref_plan->TrainStep(x.data(), labels.data(), h, &rr).ok());
  EXPECT_TRUE(gpu->SyncToStore().ok());
  cpu.reset();
  gpu.reset();
  nasnet::test::all_close("E/pw/w after dispose", store->Find("E/pw/w")->data, Get(*ref, "E/pw/w"), 1e-3, 1e-5);
}

NASNET_TEST(cuda_plan_errors_name_what_failed) {
  REQUIRE_CUDA();
  auto store = std::make_shared<ParameterStore>();
  nasnet::PlanOptions o;
  o.batch = 2;
  o.backend = BackendKind::kCuda;
  o.device = 7;
  std::unique_ptr<CompiledPlan> p;
  Status st = CompiledPlan::Create(ChainGraph(), store, o, false, &p);
  EXPECT_TRUE(!st.ok() && st.message().find("device 7 does not exist") != std::string::npos);
  // About 16 GiB of activations: more than the emulated device's 8 GiB, and the failure says how
  // many bytes were asked for (a device that has them compiles the plan).
  o.device = 0;
  auto one = MustCompile(ChainGraph(), std::make_shared<ParameterStore>(), 1, true);
  if (!one) return;
  o.batch = static_cast<int>((size_t{16} << 30) / one->activation_bytes());
  st = CompiledPlan::Create(ChainGraph(), std::make_shared<ParameterStore>(), o, false, &p);
  if (!st.ok()) {
    EXPECT_TRUE(st.code() == nasnet::StatusCode::kResourceExhausted);
    EXPECT_TRUE(st.message().find("bytes") != std::string::npos);
    std::printf("  (expected) %s\n", st.message().substr(0, 200).c_str());
  }
  p.reset();
  // 'auto' takes the device when there is one.
  o.batch = 2;
  o.backend = BackendKind::kAuto;
  st = CompiledPlan::Create(ChainGraph(), store, o, false, &p);
  EXPECT_TRUE(st.ok() && p->backend_name() == "cuda" && p->notice().empty());
}

namespace {

// Batches handed over ahead of their step (Plan::Stage, double-buffered input slots) against the
// same batches given one by one: N training steps, each batch staged on this thread while the
// previous step runs on another, then Evaluate and Predict of staged batches. Bit-identical on
// CUDA (with and without CUDA graphs), and every loss close to a CPU plan's on the same batches:
// a step that did not wait for its batch's upload on the copy stream reads the slot's previous
// batch (or NaN-filled new memory on the emulated device) and is far off.
void CompareStagedWithOneByOne(bool graphs) {
  const int batch = 3, steps = 6, classes = 5;
  const size_t image_floats = static_cast<size_t>(batch) * 2 * 6 * 6;
  auto s1 = std::make_shared<ParameterStore>(), s2 = std::make_shared<ParameterStore>(),
       s3 = std::make_shared<ParameterStore>();
  auto direct = MustCompile(OpsGraph(), s1, batch, true, false, nasnet::OptimizerKind::kSgd, true, BackendKind::kCuda, graphs);
  auto staged = MustCompile(OpsGraph(), s2, batch, true, false, nasnet::OptimizerKind::kSgd, true, BackendKind::kCuda, graphs);
  auto cpu = MustCompile(OpsGraph(), s3, batch, true, false, nasnet::OptimizerKind::kSgd, true, BackendKind::kCpu);
  if (!direct || !staged || !cpu) return;
  std::vector<std::vector<float>> xs;
  std::vector<std::vector<int32_t>> ls;
  for (int i = 0; i < steps + 2; ++i) {
    xs.push_back(nasnet::test::random_vec(image_floats, 100 + i));
    std::vector<int32_t> l(batch);
    for (int j = 0; j < batch; ++j) l[j] = (i * 3 + j * 2 + 1) % classes;
    ls.push_back(l);
  }
  StepHyper h;
  h.clip_norm = 2.0f;
  CompiledPlan::StagedBatch next;
  EXPECT_TRUE(staged->Stage(xs[0].data(), ls[0].data(), &next).ok());
  for (int i = 0; i < steps; ++i) {
    h.step = static_cast<uint64_t>(i);
    h.lr = 0.1f / (1 + i);
    StepResult a, b, c;
    EXPECT_TRUE(direct->TrainStep(xs[i].data(), ls[i].data(), h, &a).ok());
    EXPECT_TRUE(cpu->TrainStep(xs[i].data(), ls[i].data(), h, &c).ok());
    // The step on its own thread; the next batch staged here while it runs.
    Status st;
    const CompiledPlan::StagedBatch current = next;
    std::thread worker([&] { st = staged->TrainStep(current, h, &b); });
    Status staging = staged->Stage(xs[i + 1].data(), ls[i + 1].data(), &next);
    worker.join();
    EXPECT_TRUE(st.ok() && staging.ok());
    if (!st.ok()) std::printf("  step %d: %s\n", i, st.message().c_str());
    EXPECT_TRUE(a.loss == b.loss && a.grad_norm == b.grad_norm && a.correct == b.correct);
    EXPECT_NEAR(b.loss, c.loss, 1e-3 * std::fabs(c.loss));
    if (!(std::fabs(b.loss - c.loss) <= 1e-3 * std::fabs(c.loss)))
      std::printf("  step %d: staged loss %.9g, one by one %.9g, cpu %.9g\n", i, b.loss, a.loss, c.loss);
  }
  for (const std::string& name : s1->Names()) EXPECT_TRUE(Get(*s1, name) == Get(*s2, name));
  // Evaluate the batch staged last, and predict one staged without labels.
  nasnet::EvalResult ea, eb;
  EXPECT_TRUE(direct->Evaluate(xs[steps].data(), ls[steps].data(), &ea).ok());
  EXPECT_TRUE(staged->Evaluate(next, &eb).ok());
  EXPECT_TRUE(ea.loss == eb.loss && ea.correct == eb.correct);
  std::vector<float> la(static_cast<size_t>(batch) * classes), lb(la.size());
  EXPECT_TRUE(staged->Stage(xs[steps + 1].data(), nullptr, &next).ok());
  EXPECT_TRUE(direct->Predict(xs[steps + 1].data(), la.data()).ok());
  EXPECT_TRUE(staged->Predict(next, lb.data()).ok());
  EXPECT_TRUE(la == lb);
  if (graphs) EXPECT_TRUE(staged->graph_status().find("train: replayed as a CUDA graph per input slot (2 of 2") !=
                          std::string::npos);
}

}  // namespace

NASNET_TEST(cuda_plan_staged_batches_equal_one_by_one_eager) {
  REQUIRE_CUDA();
  CompareStagedWithOneByOne(false);
}

NASNET_TEST(cuda_plan_staged_batches_equal_one_by_one_graphs) {
  REQUIRE_CUDA();
  CompareStagedWithOneByOne(true);
}

NASNET_TEST(cuda_plan_stage_misuse_is_an_error) {
  // Staging into no free slot, a batch run twice or by another plan, training on a batch staged
  // without labels, labels out of range: errors naming the problem; a plan destroyed with a batch
  // still uploading frees nothing under the copy.
  REQUIRE_CUDA();
  auto store = std::make_shared<ParameterStore>();
  auto p = MustCompile(ChainGraph(), store, 2, true, false, nasnet::OptimizerKind::kSgd, true, BackendKind::kCuda);
  auto q = MustCompile(ChainGraph(), std::make_shared<ParameterStore>(), 2, true, false, nasnet::OptimizerKind::kSgd,
                       true, BackendKind::kCuda);
  if (!p || !q) return;
  std::vector<float> x = nasnet::test::random_vec(2 * 3 * 7 * 9, 9);
  std::vector<int32_t> labels = Labels(2, 5), bad = {1, 5};
  CompiledPlan::StagedBatch a, b, c, other;
  EXPECT_TRUE(p->Stage(x.data(), labels.data(), &a).ok());
  EXPECT_TRUE(p->Stage(x.data(), nullptr, &b).ok());
  Status st = p->Stage(x.data(), labels.data(), &c);
  EXPECT_TRUE(!st.ok() && st.message().find("both input slots are held") != std::string::npos);
  StepHyper h;
  StepResult r;
  st = p->TrainStep(b, h, &r);
  EXPECT_TRUE(!st.ok() && st.message().find("has no labels") != std::string::npos);
  std::vector<float> logits(2 * 5);
  EXPECT_TRUE(p->Predict(b, logits.data()).ok());
  EXPECT_TRUE(p->TrainStep(a, h, &r).ok());
  st = p->TrainStep(a, h, &r);
  EXPECT_TRUE(!st.ok() && st.message().find("is not staged on this plan") != std::string::npos);
  EXPECT_TRUE(q->Stage(x.data(), labels.data(), &other).ok());
  st = p->TrainStep(other, h, &r);
  EXPECT_TRUE(!st.ok() && st.message().find("is not staged on this plan") != std::string::npos);
  st = p->Stage(x.data(), bad.data(), &c);
  EXPECT_TRUE(st.code() == nasnet::StatusCode::kOutOfRange && st.message().find("labels[1] = 5") != std::string::npos);
  // The failed Stage gave its slot back: two more fit.
  EXPECT_TRUE(p->Stage(x.data(), labels.data(), &a).ok());
  EXPECT_TRUE(p->Stage(x.data(), labels.data(), &b).ok());
  p.reset();  // both staged, their uploads perhaps still queued
  q.reset();
}
