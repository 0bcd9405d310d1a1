// Helpers for plan tests: a tiny IR emitter (the real one is lib/cells in TypeScript), compiling
// with a failure counted, deterministic labels, and a finite-difference check of a plan's gradients.
#pragma once
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "plan/engine.h"
#include "plan/plan_impl.h"
#include "tests/test.h"

namespace nasnet::test {

struct Ir {
  std::string nodes, params;
  void Node(const std::string& id, const std::string& op, const std::string& inputs, const std::string& attrs = "",
            const std::string& ps = "") {
    nodes += std::string(nodes.empty() ? "" : ",\n") + "{\"id\": \"" + id + "\", \"op\": \"" + op +
             "\", \"inputs\": [" + inputs + "]" + (attrs.empty() ? "" : ", \"attrs\": {" + attrs + "}") +
             (ps.empty() ? "" : ", \"params\": [" + ps + "]") + "}";
  }
  void Param(const std::string& name, const std::string& shape, const std::string& init, bool trainable, bool wd) {
    params += std::string(params.empty() ? "" : ",\n") + "{\"name\": \"" + name + "\", \"shape\": [" + shape +
              "], \"init\": " + init + ", \"trainable\": " + (trainable ? "true" : "false") +
              ", \"weightDecay\": " + (wd ? "true" : "false") + "}";
  }
  // Conv with he_normal weights; pads as "t, l, b, r".
  void Conv(const std::string& id, const std::string& x, int cin, int cout, int k, int stride, int pad, int group = 1) {
    Param(id + "/w", std::to_string(cout) + ", " + std::to_string(cin / group) + ", " + std::to_string(k) + ", " +
                         std::to_string(k),
          "{\"kind\": \"he_normal\", \"fanIn\": " + std::to_string(cin / group * k * k) + "}", true, true);
    std::string p = std::to_string(pad);
    Node(id, "Conv", "\"" + x + "\"",
         "\"kernel_shape\": [" + std::to_string(k) + ", " + std::to_string(k) + "], \"strides\": [" +
             std::to_string(stride) + ", " + std::to_string(stride) + "], \"pads\": [" + p + ", " + p + ", " + p +
             ", " + p + "], \"group\": " + std::to_string(group),
         "\"" + id + "/w\"");
  }
  void Bn(const std::string& id, const std::string& x, int c) {
    std::string C = std::to_string(c);
    Param(id + "/scale", C, "{\"kind\": \"ones\"}", true, false);
    Param(id + "/bias", C, "{\"kind\": \"zeros\"}", true, false);
    Param(id + "/mean", C, "{\"kind\": \"zeros\"}", false, false);
    Param(id + "/var", C, "{\"kind\": \"ones\"}", false, false);
    Node(id, "BatchNormalization", "\"" + x + "\"", "\"epsilon\": 0.001, \"momentum\": 0.9",
         "\"" + id + "/scale\", \"" + id + "/bias\", \"" + id + "/mean\", \"" + id + "/var\"");
  }
  // The stem the fusion tests start from: "stem" (3×3, 3 → c channels) → "stem/bn".
  void Stem(int c) {
    Conv("stem", "images", 3, c, 3, 1, 1);
    Bn("stem/bn", "stem", c);
  }
  // A unit fused chains are made of: [id/dw (k×k depthwise, "same" padding), when k > 0 →] id/pw
  // (cin → cout) → id/bn.
  void Unit(const std::string& id, const std::string& x, int cin, int cout, int k = 0) {
    std::string in = x;
    if (k > 0) {
      Conv(id + "/dw", x, cin, cin, k, 1, k / 2, cin);
      in = id + "/dw";
    }
    Conv(id + "/pw", in, cin, cout, 1, 1, 0);
    Bn(id + "/bn", id + "/pw", cout);
  }
  // NASNet's factorized reduction of x (cin channels): id/path1_conv (1×1, stride 2) and the shifted
  // path id/path2_pad → id/path2_shift → id/path2_conv, cout / 2 channels each, concatenated
  // (id/fr_concat) → id/fr_bn.
  void FactorizedReduction(const std::string& id, const std::string& x, int cin, int cout) {
    Conv(id + "/path1_conv", x, cin, cout / 2, 1, 2, 0);
    Node(id + "/path2_pad", "Pad", "\"" + x + "\"", "\"pads\": [0, 0, 0, 0, 0, 0, 1, 1]");
    Node(id + "/path2_shift", "Slice", "\"" + id + "/path2_pad\"",
         "\"starts\": [1, 1], \"ends\": [1000, 1000], \"axes\": [2, 3]");
    Conv(id + "/path2_conv", id + "/path2_shift", cin, cout / 2, 1, 2, 0);
    Node(id + "/fr_concat", "Concat", "\"" + id + "/path1_conv\", \"" + id + "/path2_conv\"", "\"axis\": 1");
    Bn(id + "/fr_bn", id + "/fr_concat", cout);
  }
  void Gemm(const std::string& id, const std::string& x, int in, int out) {
    Param(id + "/w", std::to_string(out) + ", " + std::to_string(in),
          "{\"kind\": \"uniform\", \"limit\": " + std::to_string(1.0 / std::sqrt(in)) + "}", true, true);
    Param(id + "/b", std::to_string(out), "{\"kind\": \"zeros\"}", true, false);
    Node(id, "Gemm", "\"" + x + "\"", "\"transB\": 1", "\"" + id + "/w\", \"" + id + "/b\"");
  }
  std::string Json(int c, int h, int w, const std::string& outputs, const std::string& loss) const {
    return "{\"version\": 1, \"inputs\": [{\"name\": \"images\", \"dtype\": \"float32\", \"shape\": [\"N\", " +
           std::to_string(c) + ", " + std::to_string(h) + ", " + std::to_string(w) +
           "]}, {\"name\": \"labels\", \"dtype\": \"int32\", \"shape\": [\"N\"]}], \"outputs\": [" + outputs + "], " +
           (loss.empty() ? "" : "\"loss\": \"" + loss + "\", ") + "\"nodes\": [\n" + nodes + "\n], \"params\": [\n" +
           params + "\n]}";
  }
};

inline std::unique_ptr<nasnet::plan::CompiledPlan> MustCompile(const std::string& json, std::shared_ptr<nasnet::ParameterStore> store, int batch,
                                          bool training, bool input_grad = false,
                                          nasnet::OptimizerKind opt = nasnet::OptimizerKind::kSgd,
                                          bool fuse = true,
                                          nasnet::BackendKind backend = nasnet::BackendKind::kCpu,
                                          bool graphs = true) {
  nasnet::PlanOptions o;
  o.batch = batch;
  o.training = training;
  o.seed = 5;
  o.optimizer = opt;
  o.fuse = fuse;
  o.backend = backend;
  o.graphs = graphs;
  std::unique_ptr<nasnet::plan::CompiledPlan> p;
  nasnet::Status st = nasnet::plan::CompiledPlan::Create(json, std::move(store), o, input_grad, &p);
  if (!st.ok()) {
    std::printf("  compile failed: %s\n", st.message().c_str());
    ++nasnet::test::failures();
  }
  return p;
}

// A bias-free conv with dilation (Ir::Conv has none).
inline void DilatedConv(Ir& ir, const std::string& id, const std::string& x, int c, int k, int dilation, int group) {
  const std::string K = std::to_string(k), C = std::to_string(c), p = std::to_string(dilation * (k - 1) / 2);
  ir.Param(id + "/w", C + ", " + std::to_string(c / group) + ", " + K + ", " + K,
           "{\"kind\": \"he_normal\", \"fanIn\": " + std::to_string(c / group * k * k) + "}", true, true);
  ir.Node(id, "Conv", "\"" + x + "\"",
          "\"kernel_shape\": [" + K + ", " + K + "], \"pads\": [" + p + ", " + p + ", " + p + ", " + p +
              "], \"dilations\": [" + std::to_string(dilation) + ", " + std::to_string(dilation) +
              "], \"group\": " + std::to_string(group),
          "\"" + id + "/w\"");
}

// Every chain variant on an odd, non-square image (7×9), 5 classes (plan fusion and CUDA plan tests):
//   A: Relu → depthwise 3×3 stride 2 → pointwise 8→12 → BN          (fused)
//   B: depthwise 5×5 dilation 2 → pointwise → BN, no Relu            (fused)
//   C: the same Relu as A (merged) → pointwise → BN, no depthwise    (fused; the Relu also feeds a
//      max pool, so it stays)
//   D: pointwise → BN where the conv output has a second reader      (not fused)
//   E: Relu → depthwise 3×3 stride 2 → pointwise 8→12 → BN on a sum  (fused)
// plus Identity and Flatten (aliased), DropPath in place (A/dp) and not (R/dp: its input is a Relu
// output, which the Relu's backward reads), Concat, GAP and a head.
inline std::string ChainGraph() {
  Ir ir;
  ir.Conv("stem", "images", 3, 8, 3, 1, 1);
  ir.Bn("stem/bn", "stem", 8);
  ir.Node("A/relu", "Relu", "\"stem/bn\"");
  ir.Conv("A/dw", "A/relu", 8, 8, 3, 2, 1, 8);
  ir.Conv("A/pw", "A/dw", 8, 12, 1, 1, 0);
  ir.Bn("A/bn", "A/pw", 12);
  DilatedConv(ir, "B/dw", "stem/bn", 8, 5, 2, 8);
  ir.Conv("B/pw", "B/dw", 8, 8, 1, 1, 0);
  ir.Bn("B/bn", "B/pw", 8);
  ir.Node("C/relu", "Relu", "\"stem/bn\"");
  ir.Conv("C/pw", "C/relu", 8, 8, 1, 1, 0);
  ir.Bn("C/bn", "C/pw", 8);
  ir.Node("C/max", "MaxPool", "\"A/relu\"", "\"kernel_shape\": [3, 3], \"strides\": [1, 1], \"pads\": [1, 1, 1, 1]");
  ir.Conv("D/pw", "stem/bn", 8, 8, 1, 1, 0);
  ir.Bn("D/bn", "D/pw", 8);
  ir.Node("mix", "Add", "\"B/bn\", \"C/bn\", \"D/bn\", \"D/pw\", \"C/max\"");
  ir.Node("R/relu", "Relu", "\"mix\"");
  ir.Node("R/dp", "DropPath", "\"R/relu\"", "\"layer_ratio\": 1");
  ir.Node("mix2", "Add", "\"R/dp\", \"mix\"");
  ir.Node("E/relu", "Relu", "\"mix2\"");
  ir.Conv("E/dw", "E/relu", 8, 8, 3, 2, 1, 8);
  ir.Conv("E/pw", "E/dw", 8, 12, 1, 1, 0);
  ir.Bn("E/bn", "E/pw", 12);
  ir.Node("A/dp", "DropPath", "\"A/bn\"", "\"layer_ratio\": 0.5");
  ir.Node("cat", "Concat", "\"A/dp\", \"E/bn\"", "\"axis\": 1");
  ir.Node("skip", "Identity", "\"cat\"");
  ir.Node("gap", "GlobalAveragePool", "\"skip\"");
  ir.Node("flat", "Flatten", "\"gap\"", "\"axis\": 1");
  ir.Gemm("fc", "flat", 24, 5);
  ir.Node("ce", "SoftmaxCrossEntropy", "\"fc\", \"labels\"", "\"label_smoothing\": 0.1");
  return ir.Json(3, 7, 9, "\"fc\", \"ce\"", "ce");
}

inline std::vector<int32_t> Labels(int n, int classes) {
  std::vector<int32_t> l(n);
  for (int i = 0; i < n; ++i) l[i] = (i * 7 + 3) % classes;
  return l;
}

// A parameter entry whose gradient a finite-difference check probes.
struct GradProbe {
  std::string name;
  size_t index;
};

// Checks a training plan's gradients by central differences of its loss (training semantics with
// DropPath rate 0 are a deterministic function of parameters and images). In fp32 with eps 1e-3 the
// loss's rounding (~2e-7 absolute) gives ~1e-4 of noise in the quotient and the O(eps^2) truncation
// is smaller still, hence atol 1e-3 + rtol 2e-2. A ReLU/max-pool kink inside [x - eps, x + eps]
// breaks the quotient itself: such entries are detected (the quotients at eps and eps/2 disagree)
// and skipped, at most `max_skipped`. Probes the parameter entries `probes` and the image entries
// `image_indices` (the plan needs input_grad); counts a failure per mismatch, printing it. Returns
// how many checked entries had a gradient above 1e-3 (so a caller can require a non-vacuous check).
inline int CheckFiniteDifferences(nasnet::plan::CompiledPlan& plan, nasnet::ParameterStore& store,
                                  std::vector<float>& images, const std::vector<int32_t>& labels,
                                  const std::vector<GradProbe>& probes, const std::vector<size_t>& image_indices,
                                  int max_skipped) {
  const nasnet::StepHyper h;
  auto loss_at = [&]() {
    nasnet::StepResult r;
    EXPECT_TRUE(plan.ForwardBackward(images.data(), labels.data(), h, &r).ok());
    return r.loss;
  };
  auto quotient = [&](float* v, double eps) {
    const float keep = *v;
    *v = keep + static_cast<float>(eps);
    const double up = loss_at();
    *v = keep - static_cast<float>(eps);
    const double down = loss_at();
    *v = keep;
    return (up - down) / (2 * eps);
  };
  auto kinked = [](double q1, double q2) { return std::fabs(q1 - q2) > 1e-3 + 2e-2 * std::fabs(q1); };
  std::vector<std::pair<double, double>> checks;  // analytic, numeric
  std::vector<std::string> what;
  int skipped = 0;
  for (const GradProbe& p : probes) {
    loss_at();  // gradients at the unperturbed point
    const double analytic = plan.ParamGrad(p.name)[p.index];
    float* v = &store.Find(p.name)->data[p.index];
    const double q1 = quotient(v, 1e-3), q2 = quotient(v, 5e-4);
    if (kinked(q1, q2)) {
      ++skipped;
      continue;
    }
    checks.push_back({analytic, q1});
    what.push_back(p.name + "[" + std::to_string(p.index) + "]");
  }
  loss_at();
  const std::vector<float> dx = plan.InputGrad();
  for (size_t i : image_indices) {
    const double q1 = quotient(&images[i], 1e-3), q2 = quotient(&images[i], 5e-4);
    if (kinked(q1, q2)) {
      ++skipped;
      continue;
    }
    checks.push_back({dx[i], q1});
    what.push_back("images[" + std::to_string(i) + "]");
  }
  EXPECT_TRUE(skipped <= max_skipped);
  int nonzero = 0;
  for (size_t k = 0; k < checks.size(); ++k) {
    const double a = checks[k].first, q = checks[k].second;
    if (std::fabs(a) > 1e-3) ++nonzero;
    if (!(std::fabs(a - q) <= 1e-3 + 2e-2 * std::fabs(q))) {
      std::printf("  d loss / d %s: analytic %.6g, numeric %.6g\n", what[k].c_str(), a, q);
      ++failures();
    }
  }
  return nonzero;
}

}  // namespace nasnet::test
