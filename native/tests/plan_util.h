// Helpers for plan tests: a tiny IR emitter (the real one is lib/cells in TypeScript), compiling
// with a failure counted, and deterministic labels.
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
                                          bool fuse = true) {
  nasnet::PlanOptions o;
  o.batch = batch;
  o.training = training;
  o.seed = 5;
  o.optimizer = opt;
  o.fuse = fuse;
  std::unique_ptr<nasnet::plan::CompiledPlan> p;
  nasnet::Status st = nasnet::plan::CompiledPlan::Create(json, std::move(store), o, input_grad, &p);
  if (!st.ok()) {
    std::printf("  compile failed: %s\n", st.message().c_str());
    ++nasnet::test::failures();
  }
  return p;
}

inline std::vector<int32_t> Labels(int n, int classes) {
  std::vector<int32_t> l(n);
  for (int i = 0; i < n; ++i) l[i] = (i * 7 + 3) % classes;
  return l;
}

}  // namespace nasnet::test
