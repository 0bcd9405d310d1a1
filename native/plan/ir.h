// The graph IR in C++ (lib/ir/types.ts is the definition): parsed from JSON with every field checked,
// then shape-inferred for a batch size. Every error names where it is: "node 'c3/b1/left/dw1': Conv
// group 64 does not divide input channels 96", "param 'stem/w': shape ...", "graph: ...".
//
// Order: nodes must come in topological order (each input is a graph input or an EARLIER node), as
// lib/cells emits them. A reference to a later node is reported as a cycle or use before definition;
// the compiler does not sort, so the node order in the IR is the schedule.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/shapes.h"
#include "plan/engine.h"

namespace nasnet::ir {

constexpr int kIrVersion = 1;
// Any one tensor (activation or parameter) must have fewer elements than this (kernels index with int).
constexpr int64_t kMaxTensorElements = int64_t{1} << 31;
// Nodes per graph (NASNet-A 6@4032 has about 1,500; compile time grows with the square of this).
constexpr size_t kMaxNodes = 20000;

enum class Op {
  kConv, kBatchNorm, kRelu, kMaxPool, kAveragePool, kGlobalAveragePool, kFlatten, kGemm, kAdd, kConcat, kPad,
  kSlice, kIdentity, kDropout, kDropPath, kSoftmaxCrossEntropy, kWeightedSum
};
const char* OpName(Op op);

struct Param {
  std::string name;
  std::vector<int64_t> shape;
  ParamInit init;
  bool trainable = true;
  bool weight_decay = true;
};

struct Input {
  std::string name;
  bool is_int = false;           // int32 labels, else float32
  std::vector<int64_t> shape;    // -1 = the symbolic batch 'N'
};

struct Node {
  std::string id;
  Op op = Op::kIdentity;
  std::vector<std::string> inputs;
  std::vector<std::string> params;
  // Attributes, parsed and range-checked (defaults as ONNX).
  int kh = 0, kw = 0, sh = 1, sw = 1, dh = 1, dw = 1, group = 1;
  int pt = 0, pl = 0, pb = 0, pr = 0;                      // conv/pool pads (top, left, bottom, right)
  bool count_include_pad = false;
  float epsilon = 1e-5f, momentum = 0.9f;                  // BatchNormalization
  std::vector<int64_t> pad8;                               // Pad
  std::vector<int64_t> starts, ends, axes, steps;          // Slice
  float ratio = 0.5f;                                      // Dropout
  float layer_ratio = 1.0f;                                // DropPath
  float label_smoothing = 0.0f;                            // SoftmaxCrossEntropy
  std::vector<float> weights;                              // WeightedSum
};

struct Graph {
  int version = 0;
  std::vector<Input> inputs;
  std::vector<std::string> outputs;
  std::string loss;  // empty = none
  std::vector<Node> nodes;
  std::vector<Param> params;
};

// Parses and checks a graph's JSON: version, fields and their types, known ops, attributes in range,
// unique ids, declared params, topological order, outputs and loss naming nodes. Shapes come later.
Status ParseGraph(const std::string& json_text, Graph* out);

// What shape inference resolves for one node: tensor indices (graph inputs first, then nodes in
// order: node i's output is tensor inputs.size() + i), parameter indices, and kernel geometry.
struct Resolved {
  std::vector<int> in;       // tensor index of each input
  std::vector<int> params;   // index into Graph::params
  std::vector<int64_t> shape;  // output shape ([] for scalars)
  ConvShape conv{};
  PoolShape pool{};
  int bn_c = 0, bn_hw = 0;
  int slice_h0 = 0, slice_w0 = 0, slice_sh = 1, slice_sw = 1;
};

struct Shapes {
  std::vector<std::vector<int64_t>> tensor;  // every tensor's shape
  std::vector<Resolved> node;
  int images = -1;   // tensor index of the float32 images input
  int labels = -1;   // tensor index of the int32 labels input, or -1
  int logits = -1;   // tensor index of outputs[0]
  int loss = -1;     // tensor index of the loss node, or -1
  int classes = 0;
};

// Infers every shape for `batch` and checks every node against its inputs and params.
Status InferShapes(const Graph& g, int batch, Shapes* out);

// Element count of a shape (1 for a scalar).
int64_t Numel(const std::vector<int64_t>& shape);
std::string ShapeString(const std::vector<int64_t>& shape);

}  // namespace nasnet::ir
