// IR parsing and validation (fields, types, attributes, references). Shape checks are in shapes.cc.
#include "plan/ir.h"

#include <cmath>
#include <map>
#include <set>

#include "plan/json.h"

namespace nasnet::ir {

namespace {

using json::Value;

const struct {
  const char* name;
  Op op;
} kOps[] = {
    {"Conv", Op::kConv},
    {"BatchNormalization", Op::kBatchNorm},
    {"Relu", Op::kRelu},
    {"MaxPool", Op::kMaxPool},
    {"AveragePool", Op::kAveragePool},
    {"GlobalAveragePool", Op::kGlobalAveragePool},
    {"Flatten", Op::kFlatten},
    {"Gemm", Op::kGemm},
    {"Add", Op::kAdd},
    {"Concat", Op::kConcat},
    {"Pad", Op::kPad},
    {"Slice", Op::kSlice},
    {"Identity", Op::kIdentity},
    {"Dropout", Op::kDropout},
    {"DropPath", Op::kDropPath},
    {"SoftmaxCrossEntropy", Op::kSoftmaxCrossEntropy},
    {"WeightedSum", Op::kWeightedSum},
};

std::string At(const Value& v) { return " (line " + std::to_string(v.line) + ")"; }

// A field reader that prefixes every message with where it is ("node 'x'", "param 'w'", "graph").
struct Ctx {
  std::string where;
  Status Fail(const std::string& msg) const { return Status::Invalid(where + ": " + msg); }

  Status Type(const Value& v, const std::string& field, const char* want) const {
    return Fail(field + " must be " + want + " but is " + json::TypeName(v.type) + At(v));
  }
  Status Int(const Value& v, const std::string& field, int64_t lo, int64_t hi, int64_t* out) const {
    if (!v.is_number()) return Type(v, field, "an integer");
    double d = v.number;
    if (d != std::floor(d)) return Fail(field + " must be an integer but is " + Num(d));
    if (d < static_cast<double>(lo) || d > static_cast<double>(hi))
      return Fail(field + " = " + Num(d) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    *out = static_cast<int64_t>(d);
    return Status::Ok();
  }
  Status IntList(const Value& v, const std::string& field, size_t len, int64_t lo, int64_t hi,
                 std::vector<int64_t>* out) const {
    if (!v.is_array()) return Type(v, field, "an array of integers");
    if (len != 0 && v.array.size() != len)
      return Fail(field + " must have " + std::to_string(len) + " entries but has " + std::to_string(v.array.size()));
    out->clear();
    for (size_t i = 0; i < v.array.size(); ++i) {
      int64_t x;
      NASNET_RETURN_IF_ERROR(Int(v.array[i], field + "[" + std::to_string(i) + "]", lo, hi, &x));
      out->push_back(x);
    }
    return Status::Ok();
  }
  Status Float(const Value& v, const std::string& field, double lo, double hi, bool hi_open, float* out) const {
    if (!v.is_number()) return Type(v, field, "a number");
    double d = v.number;
    if (d < lo || d > hi || (hi_open && d == hi))
      return Fail(field + " = " + Num(d) + " is outside [" + Num(lo) + ", " + Num(hi) + (hi_open ? ")" : "]"));
    *out = static_cast<float>(d);
    return Status::Ok();
  }
  Status Str(const Value& v, const std::string& field, std::string* out) const {
    if (!v.is_string()) return Type(v, field, "a string");
    *out = v.string;
    return Status::Ok();
  }
  Status StrList(const Value& v, const std::string& field, std::vector<std::string>* out) const {
    if (!v.is_array()) return Type(v, field, "an array of strings");
    out->clear();
    for (size_t i = 0; i < v.array.size(); ++i) {
      std::string s;
      NASNET_RETURN_IF_ERROR(Str(v.array[i], field + "[" + std::to_string(i) + "]", &s));
      out->push_back(s);
    }
    return Status::Ok();
  }
  // Rejects members other than `allowed` (typos like "stride" for "strides" must not pass silently).
  Status Only(const Value& obj, const std::string& what, std::initializer_list<const char*> allowed) const {
    for (const auto& kv : obj.object) {
      bool ok = false;
      for (const char* a : allowed) ok = ok || kv.first == a;
      if (!ok) return Fail("unknown " + what + " '" + kv.first + "'" + At(kv.second));
    }
    return Status::Ok();
  }
  static std::string Num(double d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.10g", d);
    return buf;
  }
};

const Value* Req(const Value& obj, const char* key) { return obj.Get(key); }

Status Pair(const Ctx& c, const Value* v, const char* field, int64_t lo, int* a, int* b) {
  if (v == nullptr) return Status::Ok();
  std::vector<int64_t> xs;
  NASNET_RETURN_IF_ERROR(c.IntList(*v, field, 2, lo, 1 << 20, &xs));
  *a = static_cast<int>(xs[0]);
  *b = static_cast<int>(xs[1]);
  return Status::Ok();
}

Status Pads4(const Ctx& c, const Value* v, Node* n) {
  if (v == nullptr) return Status::Ok();
  std::vector<int64_t> p;
  NASNET_RETURN_IF_ERROR(c.IntList(*v, "pads", 4, 0, 1 << 20, &p));
  n->pt = static_cast<int>(p[0]);
  n->pl = static_cast<int>(p[1]);
  n->pb = static_cast<int>(p[2]);
  n->pr = static_cast<int>(p[3]);
  return Status::Ok();
}

Status ParseAttrs(const Ctx& c, const Value* attrs, Node* n) {
  static const Value kEmpty = [] {
    Value v;
    v.type = Value::Type::kObject;
    return v;
  }();
  if (attrs != nullptr && !attrs->is_object()) return c.Type(*attrs, "attrs", "an object");
  const Value& a = attrs ? *attrs : kEmpty;
  switch (n->op) {
    case Op::kConv: {
      NASNET_RETURN_IF_ERROR(c.Only(a, "Conv attribute", {"kernel_shape", "strides", "pads", "dilations", "group"}));
      NASNET_RETURN_IF_ERROR(Pair(c, a.Get("kernel_shape"), "kernel_shape", 1, &n->kh, &n->kw));
      NASNET_RETURN_IF_ERROR(Pair(c, a.Get("strides"), "strides", 1, &n->sh, &n->sw));
      NASNET_RETURN_IF_ERROR(Pair(c, a.Get("dilations"), "dilations", 1, &n->dh, &n->dw));
      NASNET_RETURN_IF_ERROR(Pads4(c, a.Get("pads"), n));
      if (const Value* g = a.Get("group")) {
        int64_t x;
        NASNET_RETURN_IF_ERROR(c.Int(*g, "group", 1, 1 << 24, &x));
        n->group = static_cast<int>(x);
      }
      return Status::Ok();
    }
    case Op::kMaxPool:
    case Op::kAveragePool: {
      if (n->op == Op::kMaxPool) {
        NASNET_RETURN_IF_ERROR(c.Only(a, "MaxPool attribute", {"kernel_shape", "strides", "pads"}));
      } else {
        NASNET_RETURN_IF_ERROR(
            c.Only(a, "AveragePool attribute", {"kernel_shape", "strides", "pads", "count_include_pad"}));
      }
      const Value* k = a.Get("kernel_shape");
      if (k == nullptr) return c.Fail(std::string(OpName(n->op)) + " needs attribute kernel_shape");
      NASNET_RETURN_IF_ERROR(Pair(c, k, "kernel_shape", 1, &n->kh, &n->kw));
      NASNET_RETURN_IF_ERROR(Pair(c, a.Get("strides"), "strides", 1, &n->sh, &n->sw));
      NASNET_RETURN_IF_ERROR(Pads4(c, a.Get("pads"), n));
      if (n->pt >= n->kh || n->pb >= n->kh || n->pl >= n->kw || n->pr >= n->kw)
        return c.Fail(std::string(OpName(n->op)) + " pads must be smaller than the kernel");
      if (const Value* p = a.Get("count_include_pad")) {
        int64_t x;
        NASNET_RETURN_IF_ERROR(c.Int(*p, "count_include_pad", 0, 1, &x));
        n->count_include_pad = x == 1;
      }
      return Status::Ok();
    }
    case Op::kBatchNorm: {
      NASNET_RETURN_IF_ERROR(c.Only(a, "BatchNormalization attribute", {"epsilon", "momentum"}));
      if (const Value* e = a.Get("epsilon")) {
        NASNET_RETURN_IF_ERROR(c.Float(*e, "epsilon", 0, 1, false, &n->epsilon));
        if (n->epsilon <= 0) return c.Fail("epsilon must be positive");
      }
      if (const Value* m = a.Get("momentum")) NASNET_RETURN_IF_ERROR(c.Float(*m, "momentum", 0, 1, false, &n->momentum));
      return Status::Ok();
    }
    case Op::kConcat:
    case Op::kFlatten: {
      NASNET_RETURN_IF_ERROR(c.Only(a, std::string(OpName(n->op)) + " attribute", {"axis"}));
      const Value* ax = a.Get("axis");
      if (ax != nullptr) {
        int64_t x;
        NASNET_RETURN_IF_ERROR(c.Int(*ax, "axis", -8, 8, &x));
        if (x != 1) return c.Fail(std::string(OpName(n->op)) + " only supports axis 1 but axis is " + std::to_string(x));
      }
      return Status::Ok();
    }
    case Op::kGemm: {
      NASNET_RETURN_IF_ERROR(c.Only(a, "Gemm attribute", {"transB"}));
      if (const Value* t = a.Get("transB")) {
        int64_t x;
        NASNET_RETURN_IF_ERROR(c.Int(*t, "transB", 0, 1, &x));
        if (x != 1) return c.Fail("Gemm only supports transB = 1");
      }
      return Status::Ok();
    }
    case Op::kPad: {
      NASNET_RETURN_IF_ERROR(c.Only(a, "Pad attribute", {"pads"}));
      const Value* p = a.Get("pads");
      if (p == nullptr) return c.Fail("Pad needs attribute pads");
      NASNET_RETURN_IF_ERROR(c.IntList(*p, "pads", 8, -(1 << 20), 1 << 20, &n->pad8));
      if (n->pad8[0] != 0 || n->pad8[1] != 0 || n->pad8[4] != 0 || n->pad8[5] != 0)
        return c.Fail("Pad only pads the spatial axes (pads of N and C must be 0)");
      return Status::Ok();
    }
    case Op::kSlice: {
      NASNET_RETURN_IF_ERROR(c.Only(a, "Slice attribute", {"starts", "ends", "axes", "steps"}));
      const Value *s = a.Get("starts"), *e = a.Get("ends"), *ax = a.Get("axes"), *st = a.Get("steps");
      if (!s || !e || !ax) return c.Fail("Slice needs attributes starts, ends and axes");
      const int64_t big = int64_t{1} << 40;
      NASNET_RETURN_IF_ERROR(c.IntList(*s, "starts", 0, -big, big, &n->starts));
      NASNET_RETURN_IF_ERROR(c.IntList(*e, "ends", n->starts.size(), -big, big, &n->ends));
      NASNET_RETURN_IF_ERROR(c.IntList(*ax, "axes", n->starts.size(), -4, 3, &n->axes));
      if (st) {
        NASNET_RETURN_IF_ERROR(c.IntList(*st, "steps", n->starts.size(), 1, 1 << 20, &n->steps));
      } else {
        n->steps.assign(n->starts.size(), 1);
      }
      std::set<int64_t> seen;
      for (int64_t& x : n->axes) {
        if (x < 0) x += 4;
        if (x != 2 && x != 3) return c.Fail("Slice only supports the spatial axes 2 and 3 but axes has " + std::to_string(x));
        if (!seen.insert(x).second) return c.Fail("Slice axes repeat axis " + std::to_string(x));
      }
      return Status::Ok();
    }
    case Op::kDropout: {
      NASNET_RETURN_IF_ERROR(c.Only(a, "Dropout attribute", {"ratio"}));
      if (const Value* r = a.Get("ratio")) NASNET_RETURN_IF_ERROR(c.Float(*r, "ratio", 0, 1, true, &n->ratio));
      return Status::Ok();
    }
    case Op::kDropPath: {
      NASNET_RETURN_IF_ERROR(c.Only(a, "DropPath attribute", {"layer_ratio"}));
      if (const Value* r = a.Get("layer_ratio"))
        NASNET_RETURN_IF_ERROR(c.Float(*r, "layer_ratio", 0, 1, false, &n->layer_ratio));
      return Status::Ok();
    }
    case Op::kSoftmaxCrossEntropy: {
      NASNET_RETURN_IF_ERROR(c.Only(a, "SoftmaxCrossEntropy attribute", {"label_smoothing"}));
      if (const Value* s = a.Get("label_smoothing"))
        NASNET_RETURN_IF_ERROR(c.Float(*s, "label_smoothing", 0, 1, true, &n->label_smoothing));
      return Status::Ok();
    }
    case Op::kWeightedSum: {
      NASNET_RETURN_IF_ERROR(c.Only(a, "WeightedSum attribute", {"weights"}));
      const Value* w = a.Get("weights");
      if (w == nullptr) return c.Fail("WeightedSum needs attribute weights");
      if (!w->is_array()) return c.Type(*w, "weights", "an array of numbers");
      for (size_t i = 0; i < w->array.size(); ++i) {
        float x;
        NASNET_RETURN_IF_ERROR(c.Float(w->array[i], "weights[" + std::to_string(i) + "]", -1e6, 1e6, false, &x));
        n->weights.push_back(x);
      }
      return Status::Ok();
    }
    case Op::kRelu:
    case Op::kGlobalAveragePool:
    case Op::kIdentity:
    case Op::kAdd:
      return c.Only(a, std::string(OpName(n->op)) + " attribute", {});
  }
  return Status::Ok();
}

Status ParseInit(const Ctx& c, const Value& v, ParamInit* init) {
  if (!v.is_object()) return c.Type(v, "init", "an object");
  const Value* k = v.Get("kind");
  if (k == nullptr) return c.Fail("init needs a kind");
  std::string kind;
  NASNET_RETURN_IF_ERROR(c.Str(*k, "init.kind", &kind));
  if (kind == "zeros" || kind == "ones") {
    NASNET_RETURN_IF_ERROR(c.Only(v, "init field", {"kind"}));
    init->kind = kind == "zeros" ? ParamInit::Kind::kZeros : ParamInit::Kind::kOnes;
  } else if (kind == "he_normal") {
    NASNET_RETURN_IF_ERROR(c.Only(v, "init field", {"kind", "fanIn"}));
    const Value* f = v.Get("fanIn");
    if (f == nullptr) return c.Fail("init he_normal needs fanIn");
    float x;
    NASNET_RETURN_IF_ERROR(c.Float(*f, "init.fanIn", 0, 1e12, false, &x));
    if (x <= 0) return c.Fail("init.fanIn must be positive");
    init->kind = ParamInit::Kind::kHeNormal;
    init->fan_in = f->number;
  } else if (kind == "uniform") {
    NASNET_RETURN_IF_ERROR(c.Only(v, "init field", {"kind", "limit"}));
    const Value* l = v.Get("limit");
    if (l == nullptr) return c.Fail("init uniform needs limit");
    float x;
    NASNET_RETURN_IF_ERROR(c.Float(*l, "init.limit", 0, 1e6, false, &x));
    init->kind = ParamInit::Kind::kUniform;
    init->limit = l->number;
  } else {
    return c.Fail("init.kind '" + kind + "' is not one of zeros, ones, he_normal, uniform");
  }
  return Status::Ok();
}

Status Bool(const Ctx& c, const Value& obj, const char* key, bool* out) {
  const Value* v = obj.Get(key);
  if (v == nullptr) return c.Fail(std::string("missing field ") + key);
  if (!v->is_bool()) return c.Type(*v, key, "a boolean");
  *out = v->boolean;
  return Status::Ok();
}

}  // namespace

const char* OpName(Op op) {
  for (const auto& o : kOps)
    if (o.op == op) return o.name;
  return "?";
}

Status ParseGraph(const std::string& json_text, Graph* out) {
  *out = Graph();
  Value doc;
  NASNET_RETURN_IF_ERROR(json::Parse(json_text, &doc));
  Ctx g{"graph"};
  if (!doc.is_object()) return g.Type(doc, "the document", "an object");
  NASNET_RETURN_IF_ERROR(g.Only(doc, "field", {"version", "inputs", "outputs", "loss", "nodes", "params"}));
  const Value* version = Req(doc, "version");
  if (version == nullptr) return g.Fail("missing field version");
  int64_t ver;
  if (!version->is_number() || version->number != std::floor(version->number))
    return g.Fail("version must be an integer");
  ver = static_cast<int64_t>(version->number);
  if (ver != kIrVersion)
    return g.Fail("version " + Ctx::Num(version->number) + " is not supported (this engine reads version " +
                  std::to_string(kIrVersion) + ")");
  out->version = static_cast<int>(ver);
  for (const char* key : {"inputs", "outputs", "nodes", "params"}) {
    const Value* v = doc.Get(key);
    if (v == nullptr) return g.Fail(std::string("missing field ") + key);
    if (!v->is_array()) return g.Type(*v, key, "an array");
  }

  // Params.
  std::map<std::string, int> param_index;
  const Value& params = *doc.Get("params");
  for (size_t i = 0; i < params.array.size(); ++i) {
    const Value& pv = params.array[i];
    Ctx c{"param " + std::to_string(i)};
    if (!pv.is_object()) return c.Type(pv, "the entry", "an object");
    Param p;
    const Value* name = pv.Get("name");
    if (name == nullptr) return c.Fail("missing field name");
    NASNET_RETURN_IF_ERROR(c.Str(*name, "name", &p.name));
    if (p.name.empty()) return c.Fail("name is empty");
    c.where = "param '" + p.name + "'";
    NASNET_RETURN_IF_ERROR(c.Only(pv, "field", {"name", "shape", "init", "trainable", "weightDecay"}));
    if (p.name.find('#') != std::string::npos) return c.Fail("names may not contain '#' (reserved for optimizer state)");
    const Value* shape = pv.Get("shape");
    if (shape == nullptr) return c.Fail("missing field shape");
    NASNET_RETURN_IF_ERROR(c.IntList(*shape, "shape", 0, 1, int64_t{1} << 40, &p.shape));
    if (p.shape.empty()) return c.Fail("shape must have at least one dimension");
    if (Numel(p.shape) >= kMaxTensorElements)
      return c.Fail("shape " + ShapeString(p.shape) + " has more than 2^31 elements");
    const Value* init = pv.Get("init");
    if (init == nullptr) return c.Fail("missing field init");
    NASNET_RETURN_IF_ERROR(ParseInit(c, *init, &p.init));
    NASNET_RETURN_IF_ERROR(Bool(c, pv, "trainable", &p.trainable));
    NASNET_RETURN_IF_ERROR(Bool(c, pv, "weightDecay", &p.weight_decay));
    if (!param_index.emplace(p.name, static_cast<int>(out->params.size())).second) return c.Fail("declared twice");
    out->params.push_back(std::move(p));
  }

  // Inputs.
  std::set<std::string> defined;
  const Value& inputs = *doc.Get("inputs");
  for (size_t i = 0; i < inputs.array.size(); ++i) {
    const Value& iv = inputs.array[i];
    Ctx c{"input " + std::to_string(i)};
    if (!iv.is_object()) return c.Type(iv, "the entry", "an object");
    Input in;
    const Value* name = iv.Get("name");
    if (name == nullptr) return c.Fail("missing field name");
    NASNET_RETURN_IF_ERROR(c.Str(*name, "name", &in.name));
    c.where = "input '" + in.name + "'";
    NASNET_RETURN_IF_ERROR(c.Only(iv, "field", {"name", "dtype", "shape"}));
    const Value* dtype = iv.Get("dtype");
    if (dtype == nullptr) return c.Fail("missing field dtype");
    std::string dt;
    NASNET_RETURN_IF_ERROR(c.Str(*dtype, "dtype", &dt));
    if (dt != "float32" && dt != "int32") return c.Fail("dtype '" + dt + "' is not float32 or int32");
    in.is_int = dt == "int32";
    const Value* shape = iv.Get("shape");
    if (shape == nullptr) return c.Fail("missing field shape");
    if (!shape->is_array()) return c.Type(*shape, "shape", "an array");
    for (size_t j = 0; j < shape->array.size(); ++j) {
      const Value& d = shape->array[j];
      if (d.is_string()) {
        if (d.string != "N") return c.Fail("shape[" + std::to_string(j) + "] must be a positive integer or 'N'");
        in.shape.push_back(-1);
      } else {
        int64_t x;
        NASNET_RETURN_IF_ERROR(c.Int(d, "shape[" + std::to_string(j) + "]", 1, int64_t{1} << 31, &x));
        in.shape.push_back(x);
      }
    }
    if (in.is_int) {
      if (in.shape.size() != 1 || in.shape[0] != -1) return c.Fail("int32 labels must have shape ['N']");
    } else if (in.shape.size() != 4 || in.shape[0] != -1) {
      return c.Fail("float32 images must have shape ['N', C, H, W]");
    }
    if (!defined.insert(in.name).second) return c.Fail("declared twice");
    out->inputs.push_back(std::move(in));
  }

  // Nodes, in topological order.
  const Value& nodes = *doc.Get("nodes");
  if (nodes.array.size() > kMaxNodes)
    return g.Fail("nodes has " + std::to_string(nodes.array.size()) + " entries, more than the limit of " +
                  std::to_string(kMaxNodes));
  std::set<std::string> all_ids;
  for (const Value& nv : nodes.array) {
    const Value* id = nv.is_object() ? nv.Get("id") : nullptr;
    if (id && id->is_string()) all_ids.insert(id->string);
  }
  for (size_t i = 0; i < nodes.array.size(); ++i) {
    const Value& nv = nodes.array[i];
    Ctx c{"node " + std::to_string(i)};
    if (!nv.is_object()) return c.Type(nv, "the entry", "an object");
    Node n;
    const Value* id = nv.Get("id");
    if (id == nullptr) return c.Fail("missing field id");
    NASNET_RETURN_IF_ERROR(c.Str(*id, "id", &n.id));
    if (n.id.empty()) return c.Fail("id is empty");
    c.where = "node '" + n.id + "'";
    NASNET_RETURN_IF_ERROR(c.Only(nv, "field", {"id", "op", "inputs", "attrs", "params"}));
    const Value* op = nv.Get("op");
    if (op == nullptr) return c.Fail("missing field op");
    std::string op_name;
    NASNET_RETURN_IF_ERROR(c.Str(*op, "op", &op_name));
    bool known = false;
    for (const auto& o : kOps) {
      if (op_name == o.name) {
        n.op = o.op;
        known = true;
      }
    }
    if (!known) return c.Fail("unknown op '" + op_name + "'");
    const Value* ins = nv.Get("inputs");
    if (ins == nullptr) return c.Fail("missing field inputs");
    NASNET_RETURN_IF_ERROR(c.StrList(*ins, "inputs", &n.inputs));
    if (const Value* ps = nv.Get("params")) NASNET_RETURN_IF_ERROR(c.StrList(*ps, "params", &n.params));
    NASNET_RETURN_IF_ERROR(ParseAttrs(c, nv.Get("attrs"), &n));
    if (defined.count(n.id)) return c.Fail("duplicate id (already a graph input or an earlier node)");
    for (size_t j = 0; j < n.inputs.size(); ++j) {
      const std::string& in = n.inputs[j];
      if (defined.count(in)) continue;
      std::string field = "input " + std::to_string(j) + " '" + in + "'";
      if (in == n.id) return c.Fail(field + " is the node itself (a cycle)");
      if (all_ids.count(in))
        return c.Fail(field + " is defined later: a cycle or use before definition (nodes must be in topological order)");
      return c.Fail(field + " is missing: not a graph input or a node");
    }
    for (size_t j = 0; j < n.params.size(); ++j) {
      if (!param_index.count(n.params[j]))
        return c.Fail("param " + std::to_string(j) + " '" + n.params[j] + "' is not declared in graph.params");
    }
    defined.insert(n.id);
    out->nodes.push_back(std::move(n));
  }

  // Outputs and loss.
  NASNET_RETURN_IF_ERROR(g.StrList(*doc.Get("outputs"), "outputs", &out->outputs));
  if (out->outputs.empty()) return g.Fail("outputs is empty (outputs[0] must be the logits)");
  std::set<std::string> node_ids;
  for (const Node& n : out->nodes) node_ids.insert(n.id);
  for (const std::string& o : out->outputs)
    if (!node_ids.count(o)) return g.Fail("output '" + o + "' is not a node");
  if (const Value* loss = doc.Get("loss")) {
    NASNET_RETURN_IF_ERROR(g.Str(*loss, "loss", &out->loss));
    if (!node_ids.count(out->loss)) return g.Fail("loss '" + out->loss + "' is not a node");
  }
  return Status::Ok();
}

}  // namespace nasnet::ir
