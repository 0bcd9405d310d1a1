// Malformed IR corpus: every bad graph fails to compile with a message naming the node (or param,
// input, graph) and the field at fault; nothing crashes, and the store is left untouched.
#include <memory>
#include <string>

#include "core/random.h"
#include "plan/engine.h"
#include "plan/ir.h"
#include "tests/test.h"

using nasnet::ParameterStore;
using nasnet::Plan;
using nasnet::PlanOptions;
using nasnet::Status;

namespace {

// A small valid training graph: conv → BN → ReLU → max pool → GAP → flatten → Gemm → CE.
const char* kBase = R"({
  "version": 1,
  "inputs": [{"name": "images", "dtype": "float32", "shape": ["N", 3, 8, 8]},
             {"name": "labels", "dtype": "int32", "shape": ["N"]}],
  "outputs": ["fc", "ce"],
  "loss": "ce",
  "nodes": [
    {"id": "conv1", "op": "Conv", "inputs": ["images"], "params": ["c1/w"],
     "attrs": {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1]}},
    {"id": "bn1", "op": "BatchNormalization", "inputs": ["conv1"], "params": ["bn1/s", "bn1/b", "bn1/m", "bn1/v"],
     "attrs": {"epsilon": 0.001, "momentum": 0.9}},
    {"id": "relu1", "op": "Relu", "inputs": ["bn1"]},
    {"id": "pool", "op": "MaxPool", "inputs": ["relu1"], "attrs": {"kernel_shape": [2, 2], "strides": [2, 2]}},
    {"id": "gap", "op": "GlobalAveragePool", "inputs": ["pool"]},
    {"id": "flat", "op": "Flatten", "inputs": ["gap"], "attrs": {"axis": 1}},
    {"id": "fc", "op": "Gemm", "inputs": ["flat"], "params": ["fc/w", "fc/b"], "attrs": {"transB": 1}},
    {"id": "ce", "op": "SoftmaxCrossEntropy", "inputs": ["fc", "labels"], "attrs": {"label_smoothing": 0.1}}
  ],
  "params": [
    {"name": "c1/w", "shape": [8, 3, 3, 3], "init": {"kind": "he_normal", "fanIn": 27}, "trainable": true, "weightDecay": true},
    {"name": "bn1/s", "shape": [8], "init": {"kind": "ones"}, "trainable": true, "weightDecay": false},
    {"name": "bn1/b", "shape": [8], "init": {"kind": "zeros"}, "trainable": true, "weightDecay": false},
    {"name": "bn1/m", "shape": [8], "init": {"kind": "zeros"}, "trainable": false, "weightDecay": false},
    {"name": "bn1/v", "shape": [8], "init": {"kind": "ones"}, "trainable": false, "weightDecay": false},
    {"name": "fc/w", "shape": [10, 8], "init": {"kind": "uniform", "limit": 0.3}, "trainable": true, "weightDecay": true},
    {"name": "fc/b", "shape": [10], "init": {"kind": "zeros"}, "trainable": true, "weightDecay": false}
  ]
})";

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t at = s.find(from);
  if (at == std::string::npos) {
    std::printf("  corpus: '%s' not found in the base graph\n", from.c_str());
    ++nasnet::test::failures();
    return s;
  }
  return s.replace(at, from.size(), to);
}

std::string CompileError(const std::string& json, bool training = true, int batch = 2) {
  auto store = std::make_shared<ParameterStore>();
  PlanOptions o;
  o.batch = batch;
  o.training = training;
  std::unique_ptr<Plan> plan;
  Status st = Plan::Compile(json, store, o, &plan);
  if (!st.ok() && !store->Names().empty()) return "store modified by a failed compile";
  return st.ok() ? std::string("OK") : st.message();
}

void ExpectError(const std::string& json, const std::string& part, bool training = true) {
  std::string msg = CompileError(json, training);
  if (msg.find(part) == std::string::npos) {
    std::printf("  expected an error containing \"%s\"\n  got \"%s\"\n", part.c_str(), msg.c_str());
    ++nasnet::test::failures();
  }
}

}  // namespace

NASNET_TEST(plan_ir_base_graph_compiles) {
  EXPECT_TRUE(CompileError(kBase) == "OK");
  EXPECT_TRUE(CompileError(kBase, false) == "OK");
}

NASNET_TEST(plan_ir_rejects_graph_level_faults) {
  ExpectError(Replace(kBase, "\"version\": 1", "\"version\": 2"), "graph: version 2 is not supported");
  ExpectError(Replace(kBase, "\"version\": 1,", ""), "graph: missing field version");
  ExpectError(Replace(kBase, "\"loss\": \"ce\"", "\"loss\": \"nope\""), "graph: loss 'nope' is not a node");
  ExpectError(Replace(kBase, "\"outputs\": [\"fc\", \"ce\"]", "\"outputs\": []"), "graph: outputs is empty");
  ExpectError(Replace(kBase, "\"outputs\": [\"fc\", \"ce\"]", "\"outputs\": [\"ce\"]"),
              "graph: outputs[0] 'ce' must be logits [N, classes]");
  ExpectError(Replace(kBase, "\"loss\": \"ce\"", "\"loss\": \"fc\""), "graph: loss 'fc' must be a scalar");
  ExpectError(Replace(kBase, "\"loss\": \"ce\",", "\"lost\": \"ce\","), "graph: unknown field 'lost'");
  ExpectError(Replace(Replace(kBase, "\"loss\": \"ce\",", ""), "\"outputs\": [\"fc\", \"ce\"]", "\"outputs\": [\"fc\"]"),
              "graph: a training plan needs a loss node");
  ExpectError(Replace(kBase, "\"nodes\": [", "\"nodes\": {\"x\": ["), "JSON line");
  ExpectError("[1, 2]", "graph: the document must be an object but is array");
}

NASNET_TEST(plan_ir_rejects_node_faults) {
  ExpectError(Replace(kBase, "\"op\": \"Relu\"", "\"op\": \"Gelu\""), "node 'relu1': unknown op 'Gelu'");
  ExpectError(Replace(kBase, "\"inputs\": [\"conv1\"]", "\"inputs\": [\"relu1\"]"),
              "node 'bn1': input 0 'relu1' is defined later: a cycle or use before definition");
  ExpectError(Replace(kBase, "\"inputs\": [\"conv1\"]", "\"inputs\": [\"bn1\"]"),
              "node 'bn1': input 0 'bn1' is the node itself (a cycle)");
  ExpectError(Replace(kBase, "\"inputs\": [\"bn1\"]", "\"inputs\": [\"nope\"]"),
              "node 'relu1': input 0 'nope' is missing");
  ExpectError(Replace(kBase, "{\"id\": \"pool\"", "{\"id\": \"relu1\""), "node 'relu1': duplicate id");
  ExpectError(Replace(kBase, "{\"id\": \"gap\"", "{\"id\": \"images\""), "node 'images': duplicate id");
  ExpectError(Replace(kBase, "\"inputs\": [\"bn1\"]", "\"inputs\": [\"bn1\", \"conv1\"]"),
              "node 'relu1': Relu expects 1 input(s) but has 2");
  ExpectError(Replace(kBase, "\"inputs\": [\"pool\"]", "\"inputs\": [\"labels\"]"),
              "node 'gap': GlobalAveragePool input 0 'labels' is int32 labels");
  ExpectError(Replace(kBase, "\"inputs\": [\"fc\", \"labels\"]", "\"inputs\": [\"fc\", \"fc\"]"),
              "node 'ce': SoftmaxCrossEntropy input 1 'fc' must be the int32 labels input");
  ExpectError(Replace(kBase, "{\"id\": \"relu1\", \"op\": \"Relu\"", "{\"id\": \"relu1\", \"op\": 7"),
              "node 'relu1': op must be a string but is number");
}

NASNET_TEST(plan_ir_rejects_param_faults) {
  ExpectError(Replace(kBase, "\"shape\": [8, 3, 3, 3]", "\"shape\": [8, 3, 5, 5]"),
              "node 'conv1': Conv weight 'c1/w' has shape [8, 3, 5, 5] but expected [8, 3, 3, 3]");
  ExpectError(Replace(kBase, "\"params\": [\"fc/w\", \"fc/b\"]", "\"params\": [\"fc/w\", \"fc/bias\"]"),
              "node 'fc': param 1 'fc/bias' is not declared in graph.params");
  ExpectError(Replace(kBase, "{\"name\": \"fc/b\", \"shape\": [10]", "{\"name\": \"fc/b\", \"shape\": [11]"),
              "node 'fc': Gemm bias 'fc/b' has shape [11] but expected [10]");
  ExpectError(Replace(kBase, "{\"name\": \"bn1/v\", \"shape\": [8]", "{\"name\": \"bn1/v\", \"shape\": [4]"),
              "node 'bn1': BatchNormalization param 'bn1/v' has shape [4] but expected [8]");
  ExpectError(Replace(kBase, "{\"name\": \"fc/w\", \"shape\": [10, 8]", "{\"name\": \"fc/w\", \"shape\": [10, 9]"),
              "node 'fc': Gemm weight 'fc/w' has shape [10, 9] but expected [out, 8]");
  ExpectError(Replace(kBase, "{\"name\": \"fc/b\", \"shape\": [10]", "{\"name\": \"fc/w\", \"shape\": [10]"),
              "param 'fc/w': declared twice");
  ExpectError(Replace(kBase, "\"shape\": [8, 3, 3, 3]", "\"shape\": [8, 0, 3, 3]"),
              "param 'c1/w': shape[1] = 0 is outside [1, ");
  ExpectError(Replace(kBase, "{\"kind\": \"he_normal\", \"fanIn\": 27}", "{\"kind\": \"he_normal\", \"fanIn\": 0}"),
              "param 'c1/w': init.fanIn must be positive");
  ExpectError(Replace(kBase, "{\"kind\": \"he_normal\", \"fanIn\": 27}", "{\"kind\": \"glorot\"}"),
              "param 'c1/w': init.kind 'glorot' is not one of");
  ExpectError(Replace(kBase, "\"trainable\": true, \"weightDecay\": true}", "\"trainable\": 1, \"weightDecay\": true}"),
              "param 'c1/w': trainable must be a boolean but is number");
  ExpectError(Replace(kBase, "\"inputs\": [\"bn1\"]", "\"inputs\": [\"bn1\"], \"params\": [\"fc/b\"]"),
              "node 'relu1': Relu takes no params but has 1");
}

NASNET_TEST(plan_ir_rejects_sizes) {
  ExpectError(Replace(kBase, "[\"N\", 3, 8, 8]", "[\"N\", 3, -8, 8]"), "input 'images': shape[2] = -8 is outside [1, ");
  ExpectError(Replace(kBase, "[\"N\", 3, 8, 8]", "[\"N\", 3, 0, 8]"), "input 'images': shape[2] = 0 is outside");
  ExpectError(Replace(kBase, "[\"N\", 3, 8, 8]", "[\"N\", 3, 8]"), "input 'images': float32 images must have shape");
  ExpectError(Replace(kBase, "[\"N\", 3, 8, 8]", "[\"N\", 3, 100000, 100000]"),
              "input 'images': shape [2, 3, 100000, 100000] has more than 2^31 elements");
  // Input fits (1.2e9 elements at batch 1), the conv output (3.2e9) does not.
  std::string big = Replace(kBase, "[\"N\", 3, 8, 8]", "[\"N\", 3, 20000, 20000]");
  std::string msg = CompileError(big, true, 1);
  EXPECT_TRUE(msg.find("node 'conv1': Conv output [1, 8, 20000, 20000] has more than 2^31 elements") !=
              std::string::npos);
  ExpectError(Replace(kBase, "{\"name\": \"fc/w\", \"shape\": [10, 8]",
                      "{\"name\": \"fc/w\", \"shape\": [100000, 100000]"),
              "param 'fc/w': shape [100000, 100000] has more than 2^31 elements");

  // Twenty 4 GiB activations alive at once (a chain of ReLUs all summed at the end): each tensor is
  // legal, the plan (84 GiB) is not, and the compiler says so before allocating anything.
  std::string nodes, adds;
  for (int i = 0; i < 20; ++i) {
    std::string from = i == 0 ? "images" : "r" + std::to_string(i - 1);
    nodes += "{\"id\": \"r" + std::to_string(i) + "\", \"op\": \"Relu\", \"inputs\": [\"" + from + "\"]},";
    adds += std::string(i ? ", " : "") + "\"r" + std::to_string(i) + "\"";
  }
  std::string huge = R"({"version": 1, "inputs": [{"name": "images", "dtype": "float32", "shape": ["N", 1, 32768, 32768]}],
    "outputs": ["fc"], "nodes": [)" + nodes +
                     R"({"id": "sum", "op": "Add", "inputs": [)" + adds + R"(]},
    {"id": "gap", "op": "GlobalAveragePool", "inputs": ["sum"]},
    {"id": "flat", "op": "Flatten", "inputs": ["gap"]},
    {"id": "fc", "op": "Gemm", "inputs": ["flat"], "params": ["w"]}],
    "params": [{"name": "w", "shape": [10, 1], "init": {"kind": "zeros"}, "trainable": true, "weightDecay": true}]})";
  std::string many = R"({"version": 1, "inputs": [], "outputs": ["n0"], "params": [], "nodes": [)";
  for (int i = 0; i <= 20000; ++i) many += std::string(i ? "," : "") + R"({"id": "n", "op": "Relu", "inputs": []})";
  ExpectError(many + "]}", "graph: nodes has 20001 entries, more than the limit of 20000");

  msg = CompileError(huge, false, 1);
  EXPECT_TRUE(msg.find("plan: the graph needs 84.") != std::string::npos &&
              msg.find("more than the limit of 64.00 GiB") != std::string::npos);
  if (msg.find("more than the limit") == std::string::npos) std::printf("  got \"%s\"\n", msg.c_str());
}

NASNET_TEST(plan_ir_rejects_bad_attrs) {
  ExpectError(Replace(kBase, "\"kernel_shape\": [3, 3]", "\"kernel_shape\": [0, 3]"),
              "node 'conv1': kernel_shape[0] = 0 is outside [1, ");
  ExpectError(Replace(kBase, "\"strides\": [1, 1]", "\"strides\": [1, 0]"), "node 'conv1': strides[1] = 0 is outside");
  ExpectError(Replace(kBase, "\"pads\": [1, 1, 1, 1]", "\"pads\": [1, -1, 1, 1]"), "node 'conv1': pads[1] = -1 is outside");
  ExpectError(Replace(kBase, "\"pads\": [1, 1, 1, 1]", "\"pads\": [1, 1, 1]"), "node 'conv1': pads must have 4 entries but has 3");
  ExpectError(Replace(kBase, "\"strides\": [1, 1]", "\"stride\": [1, 1]"), "node 'conv1': unknown Conv attribute 'stride'");
  ExpectError(Replace(kBase, "\"strides\": [1, 1]", "\"strides\": [1.5, 1]"), "node 'conv1': strides[0] must be an integer");
  ExpectError(Replace(kBase, "\"label_smoothing\": 0.1", "\"label_smoothing\": 1"),
              "node 'ce': label_smoothing = 1 is outside [0, 1)");
  ExpectError(Replace(kBase, "\"label_smoothing\": 0.1", "\"label_smoothing\": -0.1"),
              "node 'ce': label_smoothing = -0.1 is outside [0, 1)");
  ExpectError(Replace(kBase, "\"kernel_shape\": [2, 2], \"strides\": [2, 2]", "\"strides\": [2, 2]"),
              "node 'pool': MaxPool needs attribute kernel_shape");
  ExpectError(Replace(kBase, "\"kernel_shape\": [2, 2], \"strides\": [2, 2]", "\"kernel_shape\": [2, 2], \"pads\": [2, 0, 0, 0]"),
              "node 'pool': MaxPool pads must be smaller than the kernel");
  ExpectError(Replace(kBase, "\"kernel_shape\": [2, 2], \"strides\": [2, 2]", "\"kernel_shape\": [9, 9]"),
              "node 'pool': MaxPool kernel 9x9 on input [2, 8, 8, 8] gives an empty output");
  ExpectError(Replace(kBase, "\"epsilon\": 0.001", "\"epsilon\": 0"), "node 'bn1': epsilon must be positive");
  ExpectError(Replace(kBase, "\"epsilon\": 0.001", "\"epsilon\": \"small\""),
              "node 'bn1': epsilon must be a number but is string");
  ExpectError(Replace(kBase, "\"attrs\": {\"axis\": 1}", "\"attrs\": {\"axis\": 2}"), "node 'flat': Flatten only supports axis 1");
  ExpectError(Replace(kBase, "\"attrs\": {\"transB\": 1}", "\"attrs\": {\"transB\": 0}"), "node 'fc': Gemm only supports transB = 1");
}

NASNET_TEST(plan_ir_rejects_shape_mismatches) {
  const char* graph = R"({"version": 1,
    "inputs": [{"name": "images", "dtype": "float32", "shape": ["N", 96, 8, 8]}],
    "outputs": ["fc"],
    "nodes": [
      {"id": "c3/b1/left/dw1", "op": "Conv", "inputs": ["images"], "params": ["dw"], "attrs": {"kernel_shape": [3, 3], "group": 64, "pads": [1, 1, 1, 1]}},
      {"id": "p", "op": "AveragePool", "inputs": ["images"], "attrs": {"kernel_shape": [3, 3], "strides": [2, 2], "count_include_pad": 0}},
      {"id": "sum", "op": "Add", "inputs": ["images", "p"]},
      {"id": "cat", "op": "Concat", "inputs": ["images", "p"], "attrs": {"axis": 1}},
      {"id": "gap", "op": "GlobalAveragePool", "inputs": ["images"]},
      {"id": "flat", "op": "Flatten", "inputs": ["gap"]},
      {"id": "fc", "op": "Gemm", "inputs": ["flat"], "params": ["w"]}],
    "params": [{"name": "dw", "shape": [96, 1, 3, 3], "init": {"kind": "zeros"}, "trainable": true, "weightDecay": true},
               {"name": "w", "shape": [10, 96], "init": {"kind": "zeros"}, "trainable": true, "weightDecay": true}]})";
  ExpectError(graph, "node 'c3/b1/left/dw1': Conv group 64 does not divide input channels 96", false);
  std::string g2 = Replace(graph, "\"group\": 64", "\"group\": 96");
  ExpectError(g2, "node 'sum': Add inputs differ in shape: 'images' [2, 96, 8, 8] and 'p' [2, 96, 3, 3]", false);
  std::string g3 = Replace(g2, "\"inputs\": [\"images\", \"p\"]}", "\"inputs\": [\"images\", \"images\"]}");
  ExpectError(g3, "node 'cat': Concat inputs differ in N, H or W: 'images' [2, 96, 8, 8] and 'p' [2, 96, 3, 3]", false);
  std::string g4 = Replace(g3, "\"inputs\": [\"images\", \"p\"], \"attrs\": {\"axis\": 1}", "\"inputs\": [\"images\", \"images\"], \"attrs\": {\"axis\": 1}");
  EXPECT_TRUE(CompileError(g4, false) == "OK");
  ExpectError(Replace(g4, "\"shape\": [10, 96]", "\"shape\": [10, 95]"), "node 'fc': Gemm weight 'w' has shape [10, 95]", false);
  ExpectError(Replace(g4, "\"group\": 96", "\"group\": 3"),
              "node 'c3/b1/left/dw1': Conv weight 'dw' has shape [96, 1, 3, 3] but expected [96, 32, 3, 3]", false);
}

NASNET_TEST(plan_ir_never_crashes_on_mutations) {
  // Every truncation, and many random byte edits, of a valid graph: each compiles or fails cleanly.
  const std::string base = kBase;
  int ok = 0, failed = 0;
  for (size_t n = 0; n < base.size(); n += 7) {
    if (CompileError(base.substr(0, n)) == "OK") ++ok; else ++failed;
  }
  const char kBytes[] = "{}[]\",:0-9eN \\x";
  for (uint64_t k = 0; k < 1500; ++k) {
    std::string s = base;
    int edits = 1 + static_cast<int>(nasnet::uniform01(7, k, 0) * 3);
    for (int e = 0; e < edits; ++e) {
      size_t at = static_cast<size_t>(nasnet::uniform01(7, k, 1 + 2 * e) * s.size());
      s[at] = kBytes[static_cast<size_t>(nasnet::uniform01(7, k, 2 + 2 * e) * (sizeof kBytes - 1))];
    }
    if (CompileError(s) == "OK") ++ok; else ++failed;
  }
  EXPECT_TRUE(failed > 1000);  // most edits break the graph; none may crash
  EXPECT_TRUE(ok > 0);
}
