// The native plan runner: a graph IR (dumped by `npx tsx bench/step.ts --dump-ir FILE`) compiled and
// run without Node, for GPU hosts (scripts/gpu-check.sh) and the emulated CUDA device.
//
//   nasnet_plan_bench GRAPH.json --batch 64 [--backend cuda|cpu] [--steps 20] [--warmup 3]
//                     [--no-graphs] [--parity] [--profile] [--staged] [--json FILE]
//
// Timing (default): warm-up steps, then `steps` training steps (forward, backward, SGD update) and
// as many evaluate calls, each timed to its result (the step's scalars are downloaded, so the device
// has finished); prints medians and writes one JSON object with --json. --staged adds `steps` more
// training steps, each batch staged (Plan::Stage) while the step before runs: stagedMsPerStep.
// --parity: the same graph, seed and data on the CPU and on `backend`: one forward/backward (loss,
// gradient norm, correct count, every parameter gradient), then 3 training steps with DropPath
// (losses, every parameter and BN statistic), evaluate and predict; and on CUDA, a plan replaying
// CUDA graphs against one launching every kernel (bit-identical: the kernels are deterministic).
// Exit status 0 when every comparison is within its tolerance.
#include <algorithm>
#include <map>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/random.h"
#include "plan/engine.h"
#include "plan/plan_impl.h"

using nasnet::ParameterStore;
using nasnet::PlanOptions;
using nasnet::Status;
using nasnet::StepHyper;
using nasnet::StepResult;
using nasnet::plan::CompiledPlan;

namespace {

struct Args {
  std::string graph, json, backend = "cuda";
  int batch = 64, steps = 20, warmup = 3;
  bool graphs = true, parity = false, profile = false, staged = false;
};

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "nasnet_plan_bench: %s\n", msg.c_str());
  std::exit(2);
}

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value after " + k);
      return argv[++i];
    };
    if (k == "--batch") a.batch = std::stoi(next());
    else if (k == "--steps") a.steps = std::stoi(next());
    else if (k == "--warmup") a.warmup = std::stoi(next());
    else if (k == "--backend") a.backend = next();
    else if (k == "--json") a.json = next();
    else if (k == "--no-graphs") a.graphs = false;
    else if (k == "--parity") a.parity = true;
    else if (k == "--profile") a.profile = true;
    else if (k == "--staged") a.staged = true;
    else if (!k.empty() && k[0] != '-' && a.graph.empty()) a.graph = k;
    else Die("unknown argument " + k);
  }
  if (a.graph.empty()) Die("usage: nasnet_plan_bench GRAPH.json [--batch B] [--backend cuda|cpu] [--parity] [--staged] ...");
  if (a.backend != "cpu" && a.backend != "cuda") Die("--backend: expected cpu or cuda but received " + a.backend);
  return a;
}

std::unique_ptr<CompiledPlan> Compile(const std::string& ir, std::shared_ptr<ParameterStore> store, const Args& a,
                                      const std::string& backend, bool training, bool graphs) {
  PlanOptions o;
  o.batch = a.batch;
  o.training = training;
  o.seed = 7;
  o.backend = backend == "cuda" ? nasnet::BackendKind::kCuda : nasnet::BackendKind::kCpu;
  o.graphs = graphs;
  o.profile = a.profile && !a.parity;
  std::unique_ptr<CompiledPlan> p;
  Status st = CompiledPlan::Create(ir, std::move(store), o, false, &p);
  if (!st.ok()) Die("compiling on " + backend + ": " + st.message());
  return p;
}

void Check(const Status& st, const char* what) {
  if (!st.ok()) Die(std::string(what) + ": " + st.message());
}

double Ms(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// |got - ref| <= atol + rtol * |ref| elementwise; prints the first mismatches, counts failures.
int failures = 0;
void Close(const std::string& what, const std::vector<float>& got, const std::vector<float>& ref, double atol,
           double rtol) {
  if (got.size() != ref.size()) {
    std::printf("FAIL %s: %zu values against %zu\n", what.c_str(), got.size(), ref.size());
    ++failures;
    return;
  }
  int bad = 0;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs(static_cast<double>(got[i]) - ref[i]);
    worst = std::max(worst, d / (atol + rtol * std::fabs(ref[i])));
    if (!(d <= atol + rtol * std::fabs(ref[i]))) {
      if (bad < 5) std::printf("  %s[%zu]: %.7g vs %.7g\n", what.c_str(), i, got[i], ref[i]);
      ++bad;
    }
  }
  if (bad > 0) {
    std::printf("FAIL %s: %d of %zu outside atol %.0e + rtol %.0e\n", what.c_str(), bad, got.size(), atol, rtol);
    ++failures;
  }
}
void Near(const std::string& what, double got, double ref, double rtol) {
  if (std::fabs(got - ref) <= rtol * std::max(1e-12, std::fabs(ref))) return;
  std::printf("FAIL %s: %.9g vs %.9g (rtol %.0e)\n", what.c_str(), got, ref, rtol);
  ++failures;
}

std::vector<float> Random(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(2 * nasnet::uniform01(seed, 1, i) - 1);
  return v;
}

int Parity(const std::string& ir, const Args& a) {
  auto cpu_store = std::make_shared<ParameterStore>();
  auto dev_store = std::make_shared<ParameterStore>();
  auto cpu = Compile(ir, cpu_store, a, "cpu", true, false);
  auto dev = Compile(ir, dev_store, a, a.backend, true, a.graphs);
  std::printf("parity: %s against %s, batch %d\n", dev->device_name().c_str(), cpu->device_name().c_str(), a.batch);
  size_t n = 1;
  for (int64_t d : cpu->input_shape()) n *= static_cast<size_t>(d);
  std::vector<float> images = Random(n, 11);
  std::vector<int32_t> labels(a.batch);
  for (int i = 0; i < a.batch; ++i) labels[i] = (i * 7 + 3) % cpu->classes();
  // One forward/backward. Tolerances: both sides sum in float in different orders over up to a few
  // thousand terms per output; gradients of a randomly initialized network are O(1e-2..1).
  StepHyper h;
  StepResult rc, rd;
  Check(cpu->ForwardBackward(images.data(), labels.data(), h, &rc), "cpu forward/backward");
  Check(dev->ForwardBackward(images.data(), labels.data(), h, &rd), "device forward/backward");
  Near("loss", rd.loss, rc.loss, 1e-4);
  Near("grad norm", rd.grad_norm, rc.grad_norm, 1e-3);
  if (rd.correct != rc.correct) {
    std::printf("FAIL correct: %d vs %d\n", rd.correct, rc.correct);
    ++failures;
  }
  int grads = 0;
  for (const std::string& name : cpu->param_names()) {
    std::vector<float> gc = cpu->ParamGrad(name);
    if (gc.empty()) continue;
    Close("d " + name, dev->ParamGrad(name), gc, 2e-4, 2e-3);
    ++grads;
  }
  std::printf("  forward/backward: loss %.7f vs %.7f, grad norm %.6f vs %.6f, %d parameter gradients\n", rd.loss,
              rc.loss, rd.grad_norm, rc.grad_norm, grads);
  // Three training steps with DropPath (the same masks: seeded by node and step) and clipping.
  for (int s = 0; s < 3; ++s) {
    h.lr = 0.05f;
    h.weight_decay = 5e-4f;
    h.clip_norm = 5;
    h.drop_path_rate = 0.2f;
    h.step = static_cast<uint64_t>(s);
    Check(cpu->TrainStep(images.data(), labels.data(), h, &rc), "cpu step");
    Check(dev->TrainStep(images.data(), labels.data(), h, &rd), "device step");
    Near("step " + std::to_string(s) + " loss", rd.loss, rc.loss, 2e-3);
  }
  Check(dev->SyncToStore(), "sync to store");
  int tensors = 0;
  for (const std::string& name : cpu_store->Names()) {
    std::vector<float> vc, vd;
    std::vector<int64_t> shape;
    Check(cpu_store->Get(name, &vc, &shape), "cpu store");
    Check(dev_store->Get(name, &vd, &shape), "device store");
    Close(name + " after 3 steps", vd, vc, 1e-3, 1e-2);
    ++tensors;
  }
  std::printf("  3 steps: last loss %.7f vs %.7f, %d stored tensors compared\n", rd.loss, rc.loss, tensors);
  nasnet::EvalResult ec, ed;
  Check(cpu->Evaluate(images.data(), labels.data(), &ec), "cpu evaluate");
  Check(dev->Evaluate(images.data(), labels.data(), &ed), "device evaluate");
  Near("evaluate loss", ed.loss, ec.loss, 1e-3);
  std::vector<float> lc(static_cast<size_t>(a.batch) * cpu->classes()), ld(lc.size());
  Check(cpu->Predict(images.data(), lc.data()), "cpu predict");
  Check(dev->Predict(images.data(), ld.data()), "device predict");
  Close("logits", ld, lc, 1e-3, 1e-2);
  if (a.backend == "cuda") {
    // Graph replay against eager launches, from the same start: bit-identical results.
    auto s1 = std::make_shared<ParameterStore>();
    auto s2 = std::make_shared<ParameterStore>();
    auto eager = Compile(ir, s1, a, "cuda", true, false);
    auto graph = Compile(ir, s2, a, "cuda", true, true);
    for (int s = 0; s < 4; ++s) {
      h.step = static_cast<uint64_t>(s);
      h.lr = 0.05f / (1 + s);  // per-step values change under the replayed graph
      Check(eager->TrainStep(images.data(), labels.data(), h, &rc), "eager step");
      Check(graph->TrainStep(images.data(), labels.data(), h, &rd), "graph step");
      if (rc.loss != rd.loss || rc.grad_norm != rd.grad_norm) {
        std::printf("FAIL graph replay step %d: loss %.9g vs %.9g, norm %.9g vs %.9g\n", s, rd.loss, rc.loss,
                    rd.grad_norm, rc.grad_norm);
        ++failures;
      }
    }
    Check(eager->SyncToStore(), "sync");
    Check(graph->SyncToStore(), "sync");
    for (const std::string& name : s1->Names()) {
      std::vector<float> v1, v2;
      Check(s1->Get(name, &v1, nullptr), "store");
      Check(s2->Get(name, &v2, nullptr), "store");
      if (v1 != v2) {
        std::printf("FAIL graph replay: %s differs from the eager plan's\n", name.c_str());
        ++failures;
      }
    }
    std::printf("  graphs: %s\n", graph->graph_status().c_str());
  }
  std::printf("%s: %d comparison(s) failed\n", failures == 0 ? "parity ok" : "PARITY FAILED", failures);
  return failures == 0 ? 0 : 1;
}

// --profile: where a training step's time goes, per kind of node (forward + backward summed over the
// nodes of that kind, per step), largest first; the rest of the measured step (input upload, loss
// read-back, launch gaps) is reported as "outside nodes". Profiling times each node on its own
// (synchronized; no CUDA graphs), so the step is slower than the unprofiled figure.
void Report(const CompiledPlan& plan, int steps, double step_ms) {
  std::vector<nasnet::NodeProfile> prof;
  Check(plan.Profile(&prof), "profile");
  struct Row { double fwd = 0, bwd = 0; int nodes = 0; };
  std::map<std::string, Row> rows;
  double total = 0;
  for (const auto& p : prof) {
    Row& r = rows[p.kind];
    r.fwd += p.forward_ms / steps;
    r.bwd += p.backward_ms / steps;
    r.nodes += 1;
    total += (p.forward_ms + p.backward_ms) / steps;
  }
  std::vector<std::pair<std::string, Row>> sorted(rows.begin(), rows.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& x, const auto& y) { return x.second.fwd + x.second.bwd > y.second.fwd + y.second.bwd; });
  std::printf("profile: %.3f ms per step in nodes (%.3f ms measured per step, evaluate excluded)\n", total, step_ms);
  std::printf("  %-44s %6s %9s %9s %6s\n", "kind", "nodes", "fwd ms", "bwd ms", "share");
  for (const auto& [kind, r] : sorted)
    std::printf("  %-44s %6d %9.3f %9.3f %5.1f%%\n", kind.c_str(), r.nodes, r.fwd, r.bwd,
                100.0 * (r.fwd + r.bwd) / std::max(total, 1e-9));
}

int Time(const std::string& ir, const Args& a) {
  auto store = std::make_shared<ParameterStore>();
  auto plan = Compile(ir, store, a, a.backend, true, a.graphs);
  size_t n = 1;
  for (int64_t d : plan->input_shape()) n *= static_cast<size_t>(d);
  std::vector<float> images = Random(n, 3);
  std::vector<int32_t> labels(a.batch);
  for (int i = 0; i < a.batch; ++i) labels[i] = i % plan->classes();
  std::vector<double> train, eval;
  StepHyper h;
  h.lr = 0.01f;
  h.weight_decay = 5e-4f;
  for (int i = 0; i < a.warmup + a.steps; ++i) {
    if (a.profile && i == a.warmup) plan->ResetProfile();
    h.step = static_cast<uint64_t>(i);
    StepResult r;
    nasnet::EvalResult e;
    auto t0 = std::chrono::steady_clock::now();
    Check(plan->TrainStep(images.data(), labels.data(), h, &r), "train step");
    auto t1 = std::chrono::steady_clock::now();
    if (!a.profile) Check(plan->Evaluate(images.data(), labels.data(), &e), "evaluate");
    auto t2 = std::chrono::steady_clock::now();
    if (i >= a.warmup) {
      train.push_back(Ms(t0, t1));
      eval.push_back(Ms(t1, t2));
    }
  }
  const double ms = Median(train), ems = a.profile ? 0 : Median(eval);
  if (a.profile) Report(*plan, a.steps, ms);
  // --staged: training steps back to back, each batch staged (Plan::Stage: the host copy and, on
  // CUDA, the upload on the copy stream) while the step before runs on another thread, from two host
  // batches in turn; the mean time per step over the loop (the steps above give each batch on its
  // own, copied and uploaded before the step).
  double staged_ms = 0;
  if (a.staged && !a.profile) {
    std::vector<float> other = Random(n, 4);
    const float* host[2] = {images.data(), other.data()};
    CompiledPlan::StagedBatch next;
    Check(plan->Stage(host[0], labels.data(), &next), "stage");
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < a.steps; ++i) {
      h.step = static_cast<uint64_t>(a.warmup + a.steps + i);
      StepResult r;
      Status st;
      const CompiledPlan::StagedBatch current = next;
      std::thread worker([&] { st = plan->TrainStep(current, h, &r); });
      Status staging = i + 1 < a.steps ? plan->Stage(host[(i + 1) % 2], labels.data(), &next) : Status::Ok();
      worker.join();
      Check(st, "staged train step");
      Check(staging, "stage");
    }
    staged_ms = Ms(t0, std::chrono::steady_clock::now()) / std::max(a.steps, 1);
  }
  std::ostringstream js;
  js << "{\"backend\": \"" << plan->backend_name() << "\", \"device\": \"" << plan->device_name()
     << "\", \"batch\": " << a.batch << ", \"steps\": " << a.steps << ", \"msPerStep\": " << ms
     << ", \"imagesPerSecond\": " << a.batch * 1000.0 / ms << ", \"evalImagesPerSecond\": " << (ems > 0 ? a.batch * 1000.0 / ems : 0)
     << ", \"activationBytes\": " << plan->activation_bytes() << ", \"fusedChains\": " << plan->fused_chains()
     << ", \"graphs\": \"" << plan->graph_status() << "\"";
  if (staged_ms > 0)
    js << ", \"stagedMsPerStep\": " << staged_ms << ", \"stagedImagesPerSecond\": " << a.batch * 1000.0 / staged_ms;
  js << "}";
  std::printf("%s\n", js.str().c_str());
  if (!a.json.empty()) std::ofstream(a.json) << js.str() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a = Parse(argc, argv);
  std::ifstream in(a.graph);
  if (!in) Die("cannot read " + a.graph);
  std::stringstream ss;
  ss << in.rdbuf();
  return a.parity ? Parity(ss.str(), a) : Time(ss.str(), a);
}
