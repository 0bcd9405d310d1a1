// Shape inference: the shape of every tensor for a batch size, each node checked against its inputs
// and parameters (ONNX conventions, as lib/ir/shapes.ts). Sizes are checked in 64-bit with overflow
// guards, so huge graphs fail here, before anything is allocated.
#include <algorithm>
#include <map>

#include "plan/ir.h"

namespace nasnet::ir {

int64_t Numel(const std::vector<int64_t>& shape) {
  // Saturates instead of overflowing: callers compare against kMaxTensorElements.
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d <= 0) return d == 0 ? 0 : -1;
    if (n > (int64_t{1} << 62) / d) return int64_t{1} << 62;
    n *= d;
  }
  return n;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {

// One node being inferred: its node, what is resolved so far, and the checks every rule shares.
struct ShapeCtx {
  const Graph& g;
  const std::vector<std::vector<int64_t>>& tensor;
  const Node& n;
  Resolved& r;
  int batch;
  Status Fail(const std::string& msg) const {
    return Status::Invalid("node '" + n.id + "': " + OpName(n.op) + " " + msg);
  }
  const std::vector<int64_t>& in_shape(size_t j) const { return tensor[r.in[j]]; }
  const std::vector<int64_t>& pshape(size_t j) const { return g.params[r.params[j]].shape; }
  Status need(size_t k) const {
    if (n.inputs.size() != k)
      return Fail("expects " + std::to_string(k) + " input(s) but has " + std::to_string(n.inputs.size()));
    return Status::Ok();
  }
  Status nparams(size_t lo, size_t hi, const char* what) const {
    if (n.params.size() < lo || n.params.size() > hi)
      return Fail(std::string("expects params ") + what + " but has " + std::to_string(n.params.size()));
    return Status::Ok();
  }
  Status rank4(size_t j) const {
    if (in_shape(j).size() != 4)
      return Fail("expects an NCHW input but input " + std::to_string(j) + " '" + n.inputs[j] + "' has shape " +
                  ShapeString(in_shape(j)));
    return Status::Ok();
  }
};

// ONNX output size; returns <= 0 for an empty output.
int64_t OutSize(int64_t in, int k, int s, int p0, int p1, int d) {
  int64_t span = in + p0 + p1 - static_cast<int64_t>(d) * (k - 1) - 1;
  if (span < 0) return 0;
  return span / s + 1;
}

// ---- one shape rule per op (lib/ir/shapes.ts has the same rules; test/ir-shapes.test.ts holds
// them equal) ----

// Conv (ONNX output sizes; groups; depthwise is groups == C == K).
Status InferConv(ShapeCtx& c, std::vector<int64_t>& y) {
  const Node& n = c.n;
  Resolved& r = c.r;
  NASNET_RETURN_IF_ERROR(c.need(1));
  NASNET_RETURN_IF_ERROR(c.rank4(0));
  NASNET_RETURN_IF_ERROR(c.nparams(1, 2, "[W] or [W, B]"));
  const auto& x = c.in_shape(0);
  const auto& w = c.pshape(0);
  if (w.size() != 4) return c.Fail("weight '" + n.params[0] + "' must be 4-D but has shape " + ShapeString(w));
  int64_t C = x[1], K = w[0];
  if (C % n.group != 0)
    return c.Fail("group " + std::to_string(n.group) + " does not divide input channels " + std::to_string(C));
  if (K % n.group != 0)
    return c.Fail("group " + std::to_string(n.group) + " does not divide output channels " + std::to_string(K));
  int kh = n.kh ? n.kh : static_cast<int>(w[2]), kw = n.kw ? n.kw : static_cast<int>(w[3]);
  if (w[1] != C / n.group || w[2] != kh || w[3] != kw)
    return c.Fail("weight '" + n.params[0] + "' has shape " + ShapeString(w) + " but expected " +
                  ShapeString({K, C / n.group, kh, kw}) + " for input " + ShapeString(x) + ", group " +
                  std::to_string(n.group) + ", kernel " + std::to_string(kh) + "x" + std::to_string(kw));
  if (n.params.size() == 2 && (c.pshape(1).size() != 1 || c.pshape(1)[0] != K))
    return c.Fail("bias '" + n.params[1] + "' has shape " + ShapeString(c.pshape(1)) + " but expected [" +
                  std::to_string(K) + "]");
  int64_t oh = OutSize(x[2], kh, n.sh, n.pt, n.pb, n.dh), ow = OutSize(x[3], kw, n.sw, n.pl, n.pr, n.dw);
  if (oh < 1 || ow < 1)
    return c.Fail("kernel " + std::to_string(kh) + "x" + std::to_string(kw) + " on input " + ShapeString(x) +
                  " gives an empty output");
  y = {x[0], K, oh, ow};
  r.conv = ConvShape{static_cast<int>(x[0]), static_cast<int>(C), static_cast<int>(x[2]),
                          static_cast<int>(x[3]), static_cast<int>(K), kh, kw, n.sh, n.sw, n.pt, n.pl, n.pb,
                          n.pr, n.dh, n.dw, n.group, static_cast<int>(oh), static_cast<int>(ow)};
  return Status::Ok();
}

// BatchNormalization over an NCHW or [N, C] input.
Status InferBatchNorm(ShapeCtx& c, std::vector<int64_t>& y) {
  const Node& n = c.n;
  Resolved& r = c.r;
  NASNET_RETURN_IF_ERROR(c.need(1));
  NASNET_RETURN_IF_ERROR(c.nparams(4, 4, "[scale, B, mean, var]"));
  const auto& x = c.in_shape(0);
  if (x.size() != 4 && x.size() != 2)
    return c.Fail("expects an NCHW or [N, C] input but got " + ShapeString(x));
  for (size_t j = 0; j < 4; ++j) {
    if (c.pshape(j).size() != 1 || c.pshape(j)[0] != x[1])
      return c.Fail("param '" + n.params[j] + "' has shape " + ShapeString(c.pshape(j)) + " but expected [" +
                    std::to_string(x[1]) + "] (the channels of " + ShapeString(x) + ")");
  }
  y = x;
  r.bn_c = static_cast<int>(x[1]);
  r.bn_hw = x.size() == 4 ? static_cast<int>(x[2] * x[3]) : 1;
  return Status::Ok();
}

// Relu, Identity, Dropout, DropPath: the input's shape, batched.
Status InferSameShape(ShapeCtx& c, std::vector<int64_t>& y) {
  NASNET_RETURN_IF_ERROR(c.need(1));
  y = c.in_shape(0);
  if (y.empty() || y[0] != c.batch) return c.Fail("expects a batched input but got " + ShapeString(y));
  return Status::Ok();
}

// MaxPool, AveragePool (ONNX output sizes).
Status InferPool(ShapeCtx& c, std::vector<int64_t>& y) {
  const Node& n = c.n;
  Resolved& r = c.r;
  NASNET_RETURN_IF_ERROR(c.need(1));
  NASNET_RETURN_IF_ERROR(c.rank4(0));
  const auto& x = c.in_shape(0);
  int64_t oh = OutSize(x[2], n.kh, n.sh, n.pt, n.pb, 1), ow = OutSize(x[3], n.kw, n.sw, n.pl, n.pr, 1);
  if (oh < 1 || ow < 1)
    return c.Fail("kernel " + std::to_string(n.kh) + "x" + std::to_string(n.kw) + " on input " +
                  ShapeString(x) + " gives an empty output");
  y = {x[0], x[1], oh, ow};
  r.pool = PoolShape{static_cast<int>(x[0]), static_cast<int>(x[1]), static_cast<int>(x[2]),
                          static_cast<int>(x[3]), n.kh, n.kw, n.sh, n.sw, n.pt, n.pl, n.pb, n.pr,
                          static_cast<int>(oh), static_cast<int>(ow), n.count_include_pad};
  return Status::Ok();
}

// GlobalAveragePool to [N, C, 1, 1].
Status InferGlobalAveragePool(ShapeCtx& c, std::vector<int64_t>& y) {
  NASNET_RETURN_IF_ERROR(c.need(1));
  NASNET_RETURN_IF_ERROR(c.rank4(0));
  const auto& x = c.in_shape(0);
  y = {x[0], x[1], 1, 1};
  return Status::Ok();
}

// Flatten to [N, rest].
Status InferFlatten(ShapeCtx& c, std::vector<int64_t>& y) {
  NASNET_RETURN_IF_ERROR(c.need(1));
  const auto& x = c.in_shape(0);
  if (x.size() < 2) return c.Fail("expects at least a 2-D input but got " + ShapeString(x));
  y = {x[0], Numel(x) / x[0]};
  return Status::Ok();
}

// Gemm with transB = 1: y = x Wᵀ + b.
Status InferGemm(ShapeCtx& c, std::vector<int64_t>& y) {
  const Node& n = c.n;
  NASNET_RETURN_IF_ERROR(c.need(1));
  NASNET_RETURN_IF_ERROR(c.nparams(1, 2, "[W] or [W, B]"));
  const auto& x = c.in_shape(0);
  if (x.size() != 2) return c.Fail("expects a 2-D input but got " + ShapeString(x));
  const auto& w = c.pshape(0);
  if (w.size() != 2 || w[1] != x[1])
    return c.Fail("weight '" + n.params[0] + "' has shape " + ShapeString(w) + " but expected [out, " +
                  std::to_string(x[1]) + "] for input " + ShapeString(x) + " (transB = 1)");
  if (n.params.size() == 2 && (c.pshape(1).size() != 1 || c.pshape(1)[0] != w[0]))
    return c.Fail("bias '" + n.params[1] + "' has shape " + ShapeString(c.pshape(1)) + " but expected [" +
                  std::to_string(w[0]) + "]");
  y = {x[0], w[0]};
  return Status::Ok();
}

// Add of equal shapes (two or more inputs).
Status InferAdd(ShapeCtx& c, std::vector<int64_t>& y) {
  const Node& n = c.n;
  if (n.inputs.size() < 2) return c.Fail("expects at least 2 inputs but has " + std::to_string(n.inputs.size()));
  for (size_t j = 1; j < n.inputs.size(); ++j) {
    if (c.in_shape(j) != c.in_shape(0))
      return c.Fail("inputs differ in shape: '" + n.inputs[0] + "' " + ShapeString(c.in_shape(0)) + " and '" +
                    n.inputs[j] + "' " + ShapeString(c.in_shape(j)));
  }
  y = c.in_shape(0);
  return Status::Ok();
}

// Concat along channels.
Status InferConcat(ShapeCtx& c, std::vector<int64_t>& y) {
  const Node& n = c.n;
  if (n.inputs.empty()) return c.Fail("expects at least 1 input");
  int64_t ch = 0;
  for (size_t j = 0; j < n.inputs.size(); ++j) {
    NASNET_RETURN_IF_ERROR(c.rank4(j));
    const auto& s = c.in_shape(j);
    if (s[0] != c.in_shape(0)[0] || s[2] != c.in_shape(0)[2] || s[3] != c.in_shape(0)[3])
      return c.Fail("inputs differ in N, H or W: '" + n.inputs[0] + "' " + ShapeString(c.in_shape(0)) + " and '" +
                    n.inputs[j] + "' " + ShapeString(s));
    ch += s[1];
  }
  y = {c.in_shape(0)[0], ch, c.in_shape(0)[2], c.in_shape(0)[3]};
  return Status::Ok();
}

// Pad of the spatial axes (negative pads crop).
Status InferPad(ShapeCtx& c, std::vector<int64_t>& y) {
  const Node& n = c.n;
  NASNET_RETURN_IF_ERROR(c.need(1));
  NASNET_RETURN_IF_ERROR(c.rank4(0));
  const auto& x = c.in_shape(0);
  int64_t oh = x[2] + n.pad8[2] + n.pad8[6], ow = x[3] + n.pad8[3] + n.pad8[7];
  if (oh < 1 || ow < 1)
    return c.Fail("pads " + ShapeString(n.pad8) + " on input " + ShapeString(x) + " give an empty output");
  y = {x[0], x[1], oh, ow};
  return Status::Ok();
}

// Slice of the spatial axes (ONNX clamping of starts and ends).
Status InferSlice(ShapeCtx& c, std::vector<int64_t>& y) {
  const Node& n = c.n;
  Resolved& r = c.r;
  NASNET_RETURN_IF_ERROR(c.need(1));
  NASNET_RETURN_IF_ERROR(c.rank4(0));
  const auto& x = c.in_shape(0);
  y = x;
  for (size_t j = 0; j < n.axes.size(); ++j) {
    int64_t dim = x[n.axes[j]];
    auto clamp = [dim](int64_t v) { return std::min(std::max(v < 0 ? v + dim : v, int64_t{0}), dim); };
    int64_t s = clamp(n.starts[j]), e = clamp(n.ends[j]), st = n.steps[j];
    int64_t len = e > s ? (e - s + st - 1) / st : 0;
    if (len < 1)
      return c.Fail("starts " + std::to_string(n.starts[j]) + ", ends " + std::to_string(n.ends[j]) +
                    " on axis " + std::to_string(n.axes[j]) + " of " + ShapeString(x) + " give an empty output");
    y[n.axes[j]] = len;
    if (n.axes[j] == 2) {
      r.slice_h0 = static_cast<int>(s);
      r.slice_sh = static_cast<int>(st);
    } else {
      r.slice_w0 = static_cast<int>(s);
      r.slice_sw = static_cast<int>(st);
    }
  }
  return Status::Ok();
}

// SoftmaxCrossEntropy: logits [N, K] and the labels give a scalar.
Status InferSoftmaxCrossEntropy(ShapeCtx& c, std::vector<int64_t>& y) {
  NASNET_RETURN_IF_ERROR(c.need(2));
  const auto& x = c.in_shape(0);
  if (x.size() != 2) return c.Fail("expects logits [N, K] but got " + ShapeString(x));
  y = {};
  return Status::Ok();
}

// WeightedSum of scalar losses.
Status InferWeightedSum(ShapeCtx& c, std::vector<int64_t>& y) {
  const Node& n = c.n;
  if (n.inputs.empty()) return c.Fail("expects at least 1 input");
  if (n.weights.size() != n.inputs.size())
    return c.Fail("needs one weight per input: " + std::to_string(n.inputs.size()) + " inputs but " +
                  std::to_string(n.weights.size()) + " weights");
  for (size_t j = 0; j < n.inputs.size(); ++j)
    if (!c.in_shape(j).empty())
      return c.Fail("expects scalar inputs but '" + n.inputs[j] + "' has shape " + ShapeString(c.in_shape(j)));
  y = {};
  return Status::Ok();
}

// The rule of node c.n's op: its output shape in y, its kernel geometry in c.r.
Status InferNode(ShapeCtx& c, std::vector<int64_t>& y) {
  switch (c.n.op) {
    case Op::kConv: return InferConv(c, y);
    case Op::kBatchNorm: return InferBatchNorm(c, y);
    case Op::kRelu:
    case Op::kIdentity:
    case Op::kDropout:
    case Op::kDropPath: return InferSameShape(c, y);
    case Op::kMaxPool:
    case Op::kAveragePool: return InferPool(c, y);
    case Op::kGlobalAveragePool: return InferGlobalAveragePool(c, y);
    case Op::kFlatten: return InferFlatten(c, y);
    case Op::kGemm: return InferGemm(c, y);
    case Op::kAdd: return InferAdd(c, y);
    case Op::kConcat: return InferConcat(c, y);
    case Op::kPad: return InferPad(c, y);
    case Op::kSlice: return InferSlice(c, y);
    case Op::kSoftmaxCrossEntropy: return InferSoftmaxCrossEntropy(c, y);
    case Op::kWeightedSum: return InferWeightedSum(c, y);
  }
  return c.Fail("has no shape rule");
}

}  // namespace

Status InferShapes(const Graph& g, int batch, Shapes* out) {
  *out = Shapes();
  if (batch < 1) return Status::Invalid("graph: batch must be a positive integer but is " + std::to_string(batch));
  std::map<std::string, int> tensor_index;
  std::vector<bool> is_int;
  for (const Input& in : g.inputs) {
    std::vector<int64_t> s = in.shape;
    for (int64_t& d : s)
      if (d == -1) d = batch;
    if (Numel(s) >= kMaxTensorElements)
      return Status::Invalid("input '" + in.name + "': shape " + ShapeString(s) + " has more than 2^31 elements");
    int idx = static_cast<int>(out->tensor.size());
    tensor_index[in.name] = idx;
    out->tensor.push_back(s);
    is_int.push_back(in.is_int);
    if (in.is_int) {
      if (out->labels >= 0) return Status::Invalid("input '" + in.name + "': the graph has two int32 label inputs");
      out->labels = idx;
    } else {
      if (out->images >= 0) return Status::Invalid("input '" + in.name + "': the graph has two float32 image inputs");
      out->images = idx;
    }
  }
  if (out->images < 0) return Status::Invalid("graph: needs one float32 input ['N', C, H, W] (the images)");
  std::map<std::string, int> param_index;
  for (size_t i = 0; i < g.params.size(); ++i) param_index[g.params[i].name] = static_cast<int>(i);

  for (const Node& n : g.nodes) {
    Resolved r;
    for (const std::string& in : n.inputs) r.in.push_back(tensor_index.at(in));  // ParseGraph checked them
    for (const std::string& p : n.params) r.params.push_back(param_index.at(p));
    ShapeCtx c{g, out->tensor, n, r, batch};
    // Every input but the labels of SoftmaxCrossEntropy must be float.
    for (size_t j = 0; j < r.in.size(); ++j) {
      bool labels_slot = n.op == Op::kSoftmaxCrossEntropy && j == 1;
      if (is_int[r.in[j]] && !labels_slot)
        return c.Fail("input " + std::to_string(j) + " '" + n.inputs[j] + "' is int32 labels, not a float tensor");
      if (labels_slot && !is_int[r.in[j]])
        return c.Fail("input 1 '" + n.inputs[j] + "' must be the int32 labels input");
    }
    if (n.op != Op::kConv && n.op != Op::kBatchNorm && n.op != Op::kGemm && !n.params.empty())
      return c.Fail("takes no params but has " + std::to_string(n.params.size()));
    std::vector<int64_t> y;
    NASNET_RETURN_IF_ERROR(InferNode(c, y));
    int64_t numel = Numel(y);
    if (numel >= kMaxTensorElements)
      return c.Fail("output " + ShapeString(y) + " has more than 2^31 elements");
    tensor_index[n.id] = static_cast<int>(out->tensor.size());
    out->tensor.push_back(y);
    is_int.push_back(false);
    out->node.push_back(std::move(r));
  }

  out->logits = tensor_index.at(g.outputs[0]);
  const auto& ls = out->tensor[out->logits];
  if (ls.size() != 2)
    return Status::Invalid("graph: outputs[0] '" + g.outputs[0] + "' must be logits [N, classes] but has shape " +
                           ShapeString(ls));
  out->classes = static_cast<int>(ls[1]);
  if (!g.loss.empty()) {
    out->loss = tensor_index.at(g.loss);
    if (!out->tensor[out->loss].empty())
      return Status::Invalid("graph: loss '" + g.loss + "' must be a scalar but has shape " +
                             ShapeString(out->tensor[out->loss]));
  }
  return Status::Ok();
}

}  // namespace nasnet::ir
