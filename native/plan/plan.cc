// Plan compilation: parse and validate the IR, infer shapes, then the passes listed in
// plan_impl.h: decide which nodes run in which mode and which gradients exist, plan the memory, then
// bind parameters in the store (last but one, so a graph that fails any check leaves the store
// untouched) and allocate the plan's memory on its backend.
#include <algorithm>
#include <cstring>
#include <map>
#include <new>
#include <stdexcept>

#include "plan/memory.h"
#include "plan/plan_impl.h"
#include "plan/residency.h"

namespace nasnet {

Status Plan::Compile(const std::string& ir_json, std::shared_ptr<ParameterStore> store, const PlanOptions& options,
                     std::unique_ptr<Plan>* out) {
  std::unique_ptr<plan::CompiledPlan> p;
  NASNET_RETURN_IF_ERROR(plan::CompiledPlan::Create(ir_json, std::move(store), options, false, &p));
  *out = std::move(p);
  return Status::Ok();
}

namespace plan {

using ir::Op;

namespace {

// Backward kernels that write (=) their dx and so need a scratch buffer to accumulate into a
// gradient another consumer already wrote. The others (Add, Identity, Flatten, WeightedSum) add
// directly; Conv and Gemm also take a null dx when the input needs no gradient.
bool WritesDx(Op op) {
  switch (op) {
    case Op::kAdd:
    case Op::kIdentity:
    case Op::kFlatten:
    case Op::kWeightedSum: return false;
    default: return true;
  }
}
bool TakesNullDx(Op op) { return op == Op::kConv || op == Op::kGemm; }

std::string GiB(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1ull << 30));
  return buf;
}

}  // namespace

Status SelectBackend(const PlanOptions& options, std::shared_ptr<Backend>* out, std::string* notice) {
  notice->clear();
  if (options.backend == BackendKind::kCpu) {
    *out = CpuBackend();
    return Status::Ok();
  }
  Status st = CudaBackend(options.device, out);
  if (st.ok() || options.backend == BackendKind::kCuda) return st;
  *notice = "cuda unavailable (" + st.message() + "): running on the cpu";
  *out = CpuBackend();
  return Status::Ok();
}

CompiledPlan::~CompiledPlan() {
  for (auto& c : captured_) c.reset();
  if (!backend_) return;
  // Device copies write themselves back when the last plan holding them goes (residency.h).
  slots_.clear();
  if (!is_lane_) backend_->Free(arena_);
  for (Lane& lane : lanes_) {
    lane.plans.clear();
    backend_->Free(lane.arena);
  }
  backend_->Free(grads_);
  backend_->Free(step_block_);
  backend_->Free(partials_);
  // A staged batch may still be uploading: nothing is freed under a copy (or a step) in flight.
  backend_->Synchronize();
  for (InputSlot& slot : inputs_) {
    if (slot.uploaded) backend_->HostWaits(slot.uploaded.get());
    backend_->Free(slot.images_dev);
    backend_->Free(slot.labels_dev);
    backend_->FreeHost(slot.host);
    slot.uploaded.reset();
    slot.consumed.reset();
  }
  backend_->FreeHost(step_block_host_);
}

Status CompiledPlan::Create(const std::string& ir_json, std::shared_ptr<ParameterStore> store,
                            const PlanOptions& options, bool input_grad, std::unique_ptr<CompiledPlan>* out) {
  return Compile(ir_json, std::move(store), options, input_grad, nullptr, out);
}

Status CompiledPlan::CreateLane(const std::string& ir_json, std::shared_ptr<ParameterStore> store,
                                const PlanOptions& options, const LaneSetup& setup,
                                std::unique_ptr<CompiledPlan>* out) {
  return Compile(ir_json, std::move(store), options, false, &setup, out);
}

Status CompiledPlan::Compile(const std::string& ir_json, std::shared_ptr<ParameterStore> store,
                             const PlanOptions& options, bool input_grad, const LaneSetup* lane,
                             std::unique_ptr<CompiledPlan>* out) {
  if (!store) return Status::Invalid("plan: store is null");
  if (options.batch < 1) return Status::Invalid("plan: batch must be a positive integer but is " + std::to_string(options.batch));
  std::unique_ptr<CompiledPlan> p(new CompiledPlan());
  p->store_ = std::move(store);
  p->options_ = options;
  p->input_grad_ = input_grad;
  NASNET_RETURN_IF_ERROR(SelectBackend(options, &p->backend_, &p->notice_));
  // Nothing below throws on purpose; an allocation failure (a huge document, a huge arena) must
  // still come back as a Status, never as an exception through the API.
  try {
    NASNET_RETURN_IF_ERROR(ir::ParseGraph(ir_json, &p->graph_));
    NASNET_RETURN_IF_ERROR(ir::InferShapes(p->graph_, options.batch, &p->shapes_));
    // A plan that splits its batch into lanes runs none of it itself: no arena (AllocateMemory).
    const int lanes = lane != nullptr ? 0 : LaneCount(options, *p->backend_, input_grad);
    p->is_parent_ = lanes > 0;
    p->is_lane_ = lane != nullptr;
    p->node_workers_ = lane != nullptr && lane->node_workers > 1 && !options.training ? lane->node_workers : 0;
    NASNET_RETURN_IF_ERROR(p->Build(input_grad));
    if (p->node_workers_ > 0) NASNET_RETURN_IF_ERROR(p->BuildNodeGraphs());
    if (lanes > 0) NASNET_RETURN_IF_ERROR(p->CreateLanes(ir_json, lanes));
  } catch (const std::bad_alloc&) {
    return Status::Exhausted("plan: out of memory while compiling (" + GiB(p->arena_bytes_) + " of activations)");
  } catch (const std::exception& e) {
    return Status::Internal(std::string("plan: unexpected failure while compiling: ") + e.what());
  }
  *out = std::move(p);
  return Status::Ok();
}

void CompiledPlan::MergeCommonSubexpressions() {
  const int n = static_cast<int>(graph_.nodes.size());
  const int I = static_cast<int>(graph_.inputs.size());
  std::vector<int> canon(I + n);
  for (int t = 0; t < I + n; ++t) canon[t] = t;
  dead_.assign(n, 0);
  std::map<std::string, int> seen;
  for (int i = 0; i < n; ++i) {
    ir::Resolved& r = shapes_.node[i];
    for (int& t : r.in) t = canon[t];
    const ir::Node& node = graph_.nodes[i];
    switch (node.op) {
      case Op::kRelu: case Op::kMaxPool: case Op::kAveragePool: case Op::kGlobalAveragePool: case Op::kFlatten:
      case Op::kIdentity: case Op::kPad: case Op::kSlice: case Op::kAdd: case Op::kConcat: break;
      default: continue;  // parameters, randomness or losses: never merged
    }
    std::string key = std::to_string(static_cast<int>(node.op));
    auto put = [&key](int64_t v) { key += "," + std::to_string(v); };
    for (int t : r.in) put(t);
    key += "|";
    for (int64_t v : {node.kh, node.kw, node.sh, node.sw, node.pt, node.pl, node.pb, node.pr}) put(v);
    put(node.count_include_pad);
    for (const auto* list : {&node.pad8, &node.starts, &node.ends, &node.axes, &node.steps}) {
      key += "|";
      for (int64_t v : *list) put(v);
    }
    auto it = seen.find(key);
    if (it == seen.end()) {
      seen.emplace(key, I + i);
      continue;
    }
    canon[I + i] = it->second;
    dead_[i] = 1;
    ++merged_;
  }
  shapes_.logits = canon[shapes_.logits];
  if (shapes_.loss >= 0) shapes_.loss = canon[shapes_.loss];
}

std::vector<int> CompiledPlan::CountReaders() const {
  const int n = static_cast<int>(graph_.nodes.size());
  std::vector<int> readers(graph_.inputs.size() + graph_.nodes.size(), 0);
  for (int i = 0; i < n; ++i)
    if (!dead_[i])
      for (int t : shapes_.node[i].in) ++readers[t];
  ++readers[shapes_.logits];
  if (shapes_.loss >= 0) ++readers[shapes_.loss];
  return readers;
}

int CompiledPlan::ProducerOf(int t, Op op) const {
  const int i = t - static_cast<int>(graph_.inputs.size());
  return i >= 0 && !dead_[i] && graph_.nodes[i].op == op ? i : -1;
}

void CompiledPlan::FusePadSliceConvs() {
  if (!options_.fuse || options_.training || !backend_->Supports(Fusion::kPadSliceConv)) return;
  const int n = static_cast<int>(graph_.nodes.size());
  auto& R = shapes_.node;
  const auto& nodes = graph_.nodes;
  const std::vector<int> readers = CountReaders();
  for (int c = 0; c < n; ++c) {
    if (dead_[c] || nodes[c].op != Op::kConv) continue;
    ConvShape& s = R[c].conv;
    if (s.kh != 1 || s.kw != 1 || s.groups != 1 || (s.sh == 1 && s.sw == 1) || s.pt != 0 || s.pl != 0 ||
        s.pb != 0 || s.pr != 0)
      continue;
    const int sliced = R[c].in[0];
    const int sl = ProducerOf(sliced, Op::kSlice);
    if (sl < 0 || readers[sliced] != 1 || R[sl].slice_sh != 1 || R[sl].slice_sw != 1) continue;
    const int padded = R[sl].in[0];
    const int pd = ProducerOf(padded, Op::kPad);
    if (pd < 0 || readers[padded] != 1) continue;
    // The Conv reads slice[oh*sh] = padded[oh*sh + h0] = x[oh*sh + h0 - pad_top] (0 outside x): the
    // same Conv on x with top pad pad_top - h0, and a bottom pad that keeps its input height H_slice.
    const int x = R[pd].in[0];
    const std::vector<int64_t>& pads = nodes[pd].pad8;
    const int H_slice = s.H, W_slice = s.W;
    s.H = static_cast<int>(shapes_.tensor[x][2]);
    s.W = static_cast<int>(shapes_.tensor[x][3]);
    s.pt = static_cast<int>(pads[2]) - R[sl].slice_h0;
    s.pl = static_cast<int>(pads[3]) - R[sl].slice_w0;
    s.pb = H_slice - s.H - s.pt;
    s.pr = W_slice - s.W - s.pl;
    R[c].in[0] = x;
    dead_[sl] = 1;
    dead_[pd] = 1;
    ++fused_shifts_;
  }
}

void CompiledPlan::FuseChains() {
  const int n = static_cast<int>(graph_.nodes.size());
  const int I = static_cast<int>(graph_.inputs.size());
  fused_.assign(n, {});
  if (!options_.fuse || !backend_->Supports(Fusion::kConvBnChain)) return;
  auto& R = shapes_.node;
  const auto& nodes = graph_.nodes;
  const std::vector<int> readers = CountReaders();
  // Pass 1: pointwise → BN, with the depthwise before it when it has no other reader.
  struct Candidate {
    FusedChain chain;
    int bn, input;  // the BN node; the tensor the chain's first conv reads
  };
  std::vector<Candidate> found;
  std::vector<int> chain_reads(I + n, 0);
  for (int b = 0; b < n; ++b) {
    if (dead_[b] || nodes[b].op != Op::kBatchNorm) continue;
    FusedChain ch;
    const int z = R[b].in[0];
    ch.pw = ProducerOf(z, Op::kConv);
    if (ch.pw < 0 || readers[z] != 1) continue;
    const ir::Resolved& rp = R[ch.pw];
    if (rp.params.size() != 1 || rp.conv.groups != 1 || !is_pointwise(rp.conv)) continue;
    int in = rp.in[0];
    const int d = ProducerOf(in, Op::kConv);
    if (d >= 0 && readers[in] == 1 && R[d].params.size() == 1 && is_depthwise(R[d].conv)) {
      ch.dw = d;
      in = R[d].in[0];
    }
    if (in == shapes_.labels) continue;
    found.push_back({ch, b, in});
    ++chain_reads[in];
  }
  // Inference plans: the strided 1×1 Convs that can apply a ReLU to what they sample.
  std::vector<int> strided_reads(I + n, 0);
  if (!options_.training && backend_->Supports(Fusion::kReluStridedConv))
    for (int c = 0; c < n; ++c)
      if (!dead_[c] && nodes[c].op == Op::kConv && is_strided_pointwise(R[c].conv)) ++strided_reads[R[c].in[0]];
  // Pass 2: a Relu feeding chains (and, in inference plans, strided 1×1 Convs) is absorbed when they
  // are all that read it. Otherwise it runs anyway (its output is kept for its backward, or read by
  // another op), so the chains read its output: absorbing it would keep its input alive as well.
  auto absorbed = [&](int relu) {
    const int t = I + relu;
    return relu >= 0 && chain_reads[t] + strided_reads[t] == readers[t];
  };
  for (const Candidate& c : found) {
    FusedChain ch = c.chain;
    const int b = c.bn;
    int in = c.input;
    ch.relu = ProducerOf(in, Op::kRelu);
    if (absorbed(ch.relu))
      in = R[ch.relu].in[0];
    else
      ch.relu = -1;
    const ir::Resolved& rp = R[ch.pw];
    FusedConvBnShape& s = ch.shape;
    const ConvShape& pw = rp.conv;
    s.N = pw.N;
    s.C = pw.C;
    s.K = pw.K;
    s.OH = pw.OH;
    s.OW = pw.OW;
    s.relu_in = ch.relu >= 0;
    s.has_depthwise = ch.dw >= 0;
    s.H = s.has_depthwise ? R[ch.dw].conv.H : pw.H;
    s.W = s.has_depthwise ? R[ch.dw].conv.W : pw.W;
    if (s.has_depthwise) s.dw = R[ch.dw].conv;
    // The BN node now reads the chain's input; its params are [gamma, beta, mean, var, w_pw, w_dw].
    R[b].in = {in};
    R[b].params.push_back(rp.params[0]);
    if (ch.dw >= 0) R[b].params.push_back(R[ch.dw].params[0]);
    dead_[ch.pw] = 1;
    if (ch.dw >= 0) dead_[ch.dw] = 1;
    ch.bn = b;
    fused_[b] = ch;
    ++fused_chains_;
  }
  // The strided Convs of every absorbed Relu (chains read it or not) sample its input themselves.
  for (int c = 0; c < n; ++c) {
    if (dead_[c] || nodes[c].op != Op::kConv || strided_reads[R[c].in[0]] == 0) continue;
    const int relu = ProducerOf(R[c].in[0], Op::kRelu);
    if (!absorbed(relu)) continue;
    R[c].in[0] = R[relu].in[0];
    R[c].conv.relu_in = true;
    ++relu_strided_convs_;
  }
}

void CompiledPlan::FuseDropPathAdds() {
  const int n = static_cast<int>(graph_.nodes.size());
  const int I = static_cast<int>(graph_.inputs.size());
  drop_in_.assign(n, {});
  drop_mask_buf_.assign(n, {});
  absorbed_into_.assign(n, -1);
  if (!options_.fuse || !backend_->Supports(Fusion::kDropPathAdd)) return;
  auto& R = shapes_.node;
  const std::vector<int> readers = CountReaders();
  for (int a = 0; a < n; ++a) {
    if (dead_[a] || graph_.nodes[a].op != Op::kAdd) continue;
    std::vector<int> drops(R[a].in.size(), -1);
    bool any = false;
    for (size_t j = 0; j < R[a].in.size(); ++j) {
      const int t = R[a].in[j], d = t - I;
      if (d < 0 || dead_[d] || graph_.nodes[d].op != Op::kDropPath || readers[t] != 1) continue;
      drops[j] = d;
      any = true;
    }
    if (!any) continue;
    for (size_t j = 0; j < drops.size(); ++j) {
      const int d = drops[j];
      if (d < 0) continue;
      R[a].in[j] = R[d].in[0];
      dead_[d] = 1;
      absorbed_into_[d] = a;
      ++fused_drop_paths_;
    }
    drop_in_[a] = std::move(drops);
    drop_mask_buf_[a].assign(drop_in_[a].size(), -1);
  }
}

void CompiledPlan::FuseChainAdds() {
  if (!options_.fuse || options_.training || !backend_->Supports(Fusion::kChainAdd)) return;
  const int n = static_cast<int>(graph_.nodes.size());
  auto& R = shapes_.node;
  const std::vector<int> readers = CountReaders();
  for (int a = 0; a < n; ++a) {
    if (dead_[a] || graph_.nodes[a].op != Op::kAdd || R[a].in.size() != 2 || IsDropPathAdd(a)) continue;
    // The chain whose output only this Add reads (the later one when both qualify: its input is the
    // more recent, so moving it to the Add keeps the fewest tensors alive longer).
    int chain = -1, other = -1;
    for (int j = 1; j >= 0 && chain < 0; --j) {
      const int t = R[a].in[j], f = ProducerOf(t, Op::kBatchNorm);
      if (f < 0 || !IsFused(f) || readers[t] != 1 || R[a].in[1 - j] == t) continue;
      chain = f;
      other = R[a].in[1 - j];
    }
    if (chain < 0) continue;
    // The Add runs the chain on the chain's input, with the chain's parameters; the BN node dies.
    R[a].in = {R[chain].in[0], other};
    R[a].params = R[chain].params;
    fused_[a] = fused_[chain];
    fused_[chain] = FusedChain();
    dead_[chain] = 1;
    ++fused_adds_;
  }
}

void CompiledPlan::PlaceConcatInputs() {
  const int n = static_cast<int>(graph_.nodes.size());
  const int I = static_cast<int>(graph_.inputs.size());
  view_root_.assign(I + n, -1);
  view_offset_.assign(I + n, 0);
  if (!options_.fuse || options_.training || !backend_->Supports(Fusion::kConcatInPlace)) return;
  auto& R = shapes_.node;
  const std::vector<int> readers = CountReaders();
  for (int k = 0; k < n; ++k) {
    if (dead_[k] || graph_.nodes[k].op != Op::kConcat) continue;
    const auto& ys = shapes_.tensor[I + k];
    const size_t plane = static_cast<size_t>(ys[2] * ys[3]);
    size_t c0 = 0;  // channels before input j
    for (size_t j = 0; j < R[k].in.size(); ++j) {
      const int t = R[k].in[j], p = t - I;
      const size_t channels = static_cast<size_t>(shapes_.tensor[t][1]);
      // A fused chain's output (the chain hosted by its BN or by an Add) that only this Concat reads, once.
      if (p >= 0 && !dead_[p] && IsFused(p) && readers[t] == 1 &&
          std::count(R[k].in.begin(), R[k].in.end(), t) == 1) {
        view_root_[t] = I + k;
        view_offset_[t] = c0 * plane;
        ++concat_in_place_;
      }
      c0 += channels;
    }
  }
}

Status CompiledPlan::Build(bool input_grad) {
  const int n = static_cast<int>(graph_.nodes.size());
  n_inputs_ = static_cast<int>(graph_.inputs.size());
  if (options_.training && shapes_.loss < 0)
    return Status::Invalid("graph: a training plan needs a loss node (graph.loss); compile with training = false");
  if (options_.training && shapes_.labels < 0) return Status::Invalid("graph: a training plan needs an int32 labels input");
  if (input_grad && !options_.training) return Status::Invalid("plan: input gradients need a training plan");
  if (!(options_.ema_decay >= 0.0f && options_.ema_decay < 1.0f))
    return Status::OutOfRange("plan: ema decay must be in [0, 1) but is " + std::to_string(options_.ema_decay));
  if (options_.ema_decay > 0.0f && !options_.training)
    return Status::Invalid("plan: an EMA decay applies to training plans; an inference plan reads the averages with use_ema");
  if (options_.use_ema && options_.training)
    return Status::Invalid("plan: use_ema applies to inference plans (training = false): a training plan updates the raw parameters");
  MergeCommonSubexpressions();
  FusePadSliceConvs();
  FuseChains();
  FuseDropPathAdds();
  FuseChainAdds();
  PlaceConcatInputs();
  NASNET_RETURN_IF_ERROR(SelectNodes(input_grad));
  AssignGradientEdges();
  AliasValues();
  AliasGradients();
  NASNET_RETURN_IF_ERROR(PlanBuffers(input_grad));
  NASNET_RETURN_IF_ERROR(BindParameters());
  if (options_.profile) {
    profile_.assign(static_cast<size_t>(n) + 1, NodeProfile());
    for (int i = 0; i < n; ++i) {
      profile_[i].id = graph_.nodes[i].id;
      profile_[i].kind = KindOf(i);
    }
    profile_[n].id = "(optimizer)";
    profile_[n].kind = options_.optimizer == OptimizerKind::kSgd ? "SGD update" : "RMSProp update";
  }
  return AllocateMemory();
}

namespace {
// Backward step of node i in a plan of n nodes (forward of node i is step i).
int BackwardStep(int n, int i) { return 2 * n - 1 - i; }
}  // namespace

Status CompiledPlan::SelectNodes(bool input_grad) {
  const ir::Graph& g = graph_;
  const int n = static_cast<int>(g.nodes.size());
  const int I = n_inputs_;
  const int T = I + n;
  const bool training = options_.training;
  const auto& R = shapes_.node;
  // Which nodes each mode runs: the ancestors of what it returns.
  auto ancestors = [&](std::vector<int> targets) {
    std::vector<char> mark(T, 0);
    for (int t : targets)
      if (t >= 0) mark[t] = 1;
    for (int i = n - 1; i >= 0; --i) {
      if (!mark[I + i]) continue;
      for (int t : R[i].in) mark[t] = 1;
    }
    return std::vector<char>(mark.begin() + I, mark.end());
  };
  active_[kPredict] = ancestors({shapes_.logits});
  active_[kEval] = ancestors({shapes_.loss >= 0 ? shapes_.loss : shapes_.logits, shapes_.logits});
  active_[kTrain] = training ? ancestors({shapes_.loss, shapes_.logits}) : std::vector<char>(n, 0);
  std::vector<char> reaches_loss = training ? ancestors({shapes_.loss}) : std::vector<char>(n, 0);
  // Nodes no mode runs (a Relu whose every reader was fused, a dangling branch) get no buffers.
  for (int i = 0; i < n; ++i)
    if (!active_[kTrain][i] && !active_[kEval][i] && !active_[kPredict][i]) dead_[i] = 1;

  // Which tensors need gradients: those depending on a trainable parameter (or on the images, when
  // the input gradient is asked for) and reaching the loss.
  needs_grad_.assign(T, 0);
  if (shapes_.images >= 0) needs_grad_[shapes_.images] = input_grad;
  for (int i = 0; i < n; ++i) {
    bool need = false;
    for (int p : R[i].params) need = need || g.params[p].trainable;
    for (int t : R[i].in) need = need || needs_grad_[t];
    needs_grad_[I + i] = need;
  }
  backward_.assign(n, 0);
  for (int i = 0; i < n; ++i) backward_[i] = training && reaches_loss[i] && needs_grad_[I + i];
  // Each DropPath/Dropout node that a mode runs draws from its own RandomSlot.
  random_slot_.assign(n, -1);
  random_count_ = 0;
  for (int i = 0; i < n; ++i)
    if ((!dead_[i] || absorbed_into_[i] >= 0) && (g.nodes[i].op == Op::kDropPath || g.nodes[i].op == Op::kDropout))
      random_slot_[i] = random_count_++;
  step_block_bytes_ = sizeof(StepValues) + static_cast<size_t>(random_count_) * sizeof(RandomSlot);
  return Status::Ok();
}

void CompiledPlan::AssignGradientEdges() {
  // Edges: which consumer writes each gradient first (in backward order) and who accumulates.
  const int n = static_cast<int>(graph_.nodes.size());
  const int T = n_inputs_ + n;
  const auto& R = shapes_.node;
  edge_contrib_.assign(n, {});
  edge_first_.assign(n, {});
  edge_scratch_.assign(n, {});
  has_grad_.assign(T, 0);
  grad_start_.assign(T, -1);
  if (options_.training) {
    has_grad_[shapes_.loss] = 1;
    grad_start_[shapes_.loss] = BackwardStep(n, shapes_.loss - n_inputs_);
  }
  for (int i = n - 1; i >= 0; --i) {
    const size_t k = R[i].in.size();
    edge_contrib_[i].assign(k, 0);
    edge_first_[i].assign(k, 0);
    edge_scratch_[i].assign(k, -1);
    if (!backward_[i]) continue;
    for (size_t j = 0; j < k; ++j) {
      int t = R[i].in[j];
      if (t == shapes_.labels || !needs_grad_[t]) continue;
      edge_contrib_[i][j] = 1;
      if (!has_grad_[t]) {
        has_grad_[t] = 1;
        edge_first_[i][j] = 1;
        grad_start_[t] = BackwardStep(n, i);
      }
    }
  }
}

void CompiledPlan::AliasValues() {
  // Zero-copy nodes (fused plans). Identity and Flatten read and write nothing: their value is their
  // input's buffer. DropPath and Dropout work in place when they are their input's only reader and
  // nothing reads that input in backward (a Relu reads its own output): then an identity step
  // (eval, rate 0) copies nothing and a dropping step scales in place.
  const int n = static_cast<int>(graph_.nodes.size());
  const int I = n_inputs_;
  const auto& R = shapes_.node;
  value_root_.resize(I + n);
  for (int t = 0; t < I + n; ++t) value_root_[t] = t;
  if (!options_.fuse) return;
  const std::vector<int> readers = CountReaders();
  for (int i = 0; i < n; ++i) {
    const Op op = graph_.nodes[i].op;
    if (dead_[i]) continue;
    const int x = R[i].in.empty() ? -1 : R[i].in[0];
    bool alias = false;
    if (op == Op::kIdentity || op == Op::kFlatten) {
      alias = x != shapes_.labels;
    } else if (op == Op::kDropPath || op == Op::kDropout) {
      const int producer = x - I;
      alias = producer >= 0 && value_root_[x] == x && readers[x] == 1 && graph_.nodes[producer].op != Op::kRelu;
    }
    if (!alias) continue;
    value_root_[I + i] = value_root_[x];
    ++aliased_;
  }
}

void CompiledPlan::AliasGradients() {
  // Gradients passed through unchanged (fused plans): an Add, Identity or Flatten that writes its
  // input's gradient first hands over its own output gradient's buffer to that input (one input per
  // node, read once by it), so backward copies nothing there; the buffer then lives until the
  // input's gradient is last read.
  const int n = static_cast<int>(graph_.nodes.size());
  const int I = n_inputs_;
  const auto& R = shapes_.node;
  grad_root_.resize(I + n);
  for (int t = 0; t < I + n; ++t) grad_root_[t] = t;
  if (!options_.training || !options_.fuse) return;
  for (int i = n - 1; i >= 0; --i) {
    const Op op = graph_.nodes[i].op;
    if (dead_[i] || !backward_[i] || !has_grad_[I + i] || (op != Op::kAdd && op != Op::kIdentity && op != Op::kFlatten))
      continue;
    for (size_t j = 0; j < R[i].in.size(); ++j) {
      const int x = R[i].in[j];
      if (x < I || !edge_contrib_[i][j] || !edge_first_[i][j] || std::count(R[i].in.begin(), R[i].in.end(), x) != 1)
        continue;
      if (IsDropPathAdd(i) && drop_in_[i][j] >= 0) continue;  // its gradient is DropPath's backward
      grad_root_[x] = grad_root_[I + i];
      ++grad_aliased_;
      break;
    }
  }
}

Status CompiledPlan::PlanBuffers(bool input_grad) {
  const ir::Graph& g = graph_;
  const int n = static_cast<int>(g.nodes.size());
  const int I = n_inputs_;
  const int T = I + n;
  const bool training = options_.training;
  const auto& R = shapes_.node;
  const int S = training ? 2 * n + 1 : n;  // steps; the last training step reads the input gradient
  auto bstep = [n](int i) { return BackwardStep(n, i); };
  std::vector<BufferRequest>& req = requests_;
  req.clear();
  auto add = [&req](size_t bytes, int start, int end) {
    req.push_back({bytes, start, std::max(start, end)});
    return static_cast<int>(req.size()) - 1;
  };
  auto bytes_of = [&](int t) { return static_cast<size_t>(ir::Numel(shapes_.tensor[t])) * sizeof(float); };
  value_buf_.assign(T, -1);
  grad_buf_.assign(T, -1);
  aux_buf_.assign(n, {-1, -1, -1, -1, -1, -1});
  std::vector<int> value_end(T, -1);
  for (int i = 0; i < n; ++i) {
    value_end[I + i] = i;
    if (dead_[i]) continue;
    for (size_t j = 0; j < R[i].in.size(); ++j) {
      int t = R[i].in[j];
      value_end[t] = std::max(value_end[t], i);
      // Backward kernels that read their input's value.
      Op op = g.nodes[i].op;
      bool reads_x = op == Op::kConv || op == Op::kBatchNorm || op == Op::kGemm ||
                     (op == Op::kSoftmaxCrossEntropy && j == 0);
      if (backward_[i] && reads_x) value_end[t] = std::max(value_end[t], bstep(i));
    }
    if (backward_[i] && g.nodes[i].op == Op::kRelu) value_end[I + i] = std::max(value_end[I + i], bstep(i));
  }
  value_end[shapes_.logits] = std::max(value_end[shapes_.logits], n - 1);
  if (shapes_.loss >= 0) value_end[shapes_.loss] = std::max(value_end[shapes_.loss], n - 1);
  std::vector<int> grad_end(T, -1);  // per root: the last step any gradient it holds is read
  for (int t = I; t < T; ++t)
    if (has_grad_[t]) grad_end[grad_root_[t]] = std::max(grad_end[grad_root_[t]], bstep(t - I));
  // An aliased buffer lives until the last read of any tensor it holds.
  for (int t = T - 1; t >= 0; --t)
    if (value_root_[t] != t) value_end[value_root_[t]] = std::max(value_end[value_root_[t]], value_end[t]);
  // A Concat whose inputs are written in place lives from the first of their producers on; the
  // views have no buffer of their own.
  std::vector<int> value_start(T);
  for (int t = 0; t < T; ++t) value_start[t] = t - I;
  for (int t = I; t < T; ++t)
    if (view_root_[t] >= 0 && !dead_[t - I])
      value_start[view_root_[t]] = std::min(value_start[view_root_[t]], t - I);
  for (int i = 0; i < n; ++i) {
    const int t = I + i;
    if (dead_[i]) continue;
    if (value_root_[t] == t && view_root_[t] < 0)
      value_buf_[t] = add(std::max<size_t>(bytes_of(t), sizeof(float)), value_start[t], value_end[t]);
    if (has_grad_[t] && grad_root_[t] == t)
      grad_buf_[t] = add(std::max<size_t>(bytes_of(t), sizeof(float)), grad_start_[t], grad_end[t]);
    const Op op = g.nodes[i].op;
    const int end = backward_[i] ? bstep(i) : i;
    const auto& x = shapes_.tensor[R[i].in.empty() ? t : R[i].in[0]];
    if (IsFused(i)) {
      // Scratch the backend needs while the chain runs: the larger of its training and inference
      // forwards (whichever modes run it), and its backward.
      const FusedConvBnShape& s = fused_[i].shape;
      size_t fwd = 0;
      if (training && active_[kTrain][i]) fwd = backend_->FusedConvBnScratch(s, FusedPhase::kForwardTrain);
      if (active_[kEval][i] || active_[kPredict][i])
        fwd = std::max(fwd, backend_->FusedConvBnScratch(s, FusedPhase::kForwardEval));
      if (fwd > 0) aux_buf_[i][kAuxForwardScratch] = add(fwd, i, i);
      const size_t bwd = backward_[i] ? backend_->FusedConvBnScratch(s, FusedPhase::kBackward) : 0;
      if (bwd > 0) aux_buf_[i][kAuxBackwardScratch] = add(bwd, bstep(i), bstep(i));
    }
    if (training && active_[kTrain][i]) {
      if (op == Op::kBatchNorm) {
        aux_buf_[i][kAuxMean] = add(static_cast<size_t>(R[i].bn_c) * sizeof(float), i, end);
        aux_buf_[i][kAuxInvstd] = add(static_cast<size_t>(R[i].bn_c) * sizeof(float), i, end);
        if (IsFused(i)) {
          const FusedConvBnShape& s = fused_[i].shape;
          const size_t plane = static_cast<size_t>(s.OH) * s.OW * static_cast<size_t>(s.N) * sizeof(float);
          aux_buf_[i][kAuxZ] = add(plane * static_cast<size_t>(s.K), i, end);
          if (s.has_depthwise) aux_buf_[i][kAuxT] = add(plane * static_cast<size_t>(s.C), i, end);
        }
      } else if (op == Op::kMaxPool && backward_[i]) {
        aux_buf_[i][kAuxMask] = add(bytes_of(t), i, end);  // int32 argmax, one per output
      } else if (op == Op::kDropout) {
        aux_buf_[i][kAuxMask] = add(static_cast<size_t>(ir::Numel(x)), i, end);  // uint8 mask
      } else if (op == Op::kDropPath) {
        aux_buf_[i][kAuxMask] = add(static_cast<size_t>(x[0]), i, end);  // uint8 keep per sample
      }
    }
    if (IsDropPathAdd(i) && training && active_[kTrain][i]) {
      for (size_t j = 0; j < drop_in_[i].size(); ++j)
        if (drop_in_[i][j] >= 0) drop_mask_buf_[i][j] = add(static_cast<size_t>(x[0]), i, end);  // uint8 per sample
    }
    // A DropPath-Add writes (=) the gradients of its DropPath inputs: a scratch where another
    // consumer wrote that gradient first.
    if (backward_[i] && IsDropPathAdd(i)) {
      for (size_t j = 0; j < R[i].in.size(); ++j)
        if (drop_in_[i][j] >= 0 && edge_contrib_[i][j] && !edge_first_[i][j])
          edge_scratch_[i][j] = add(bytes_of(R[i].in[j]), bstep(i), bstep(i));
    }
    if (backward_[i] && WritesDx(op)) {
      for (size_t j = 0; j < R[i].in.size(); ++j) {
        int u = R[i].in[j];
        if (u == shapes_.labels) continue;
        bool contrib = edge_contrib_[i][j];
        bool scratch = contrib ? !edge_first_[i][j] : !(TakesNullDx(op) || IsFused(i));
        if (scratch) edge_scratch_[i][j] = add(bytes_of(u), bstep(i), bstep(i));
      }
    }
  }
  if (input_grad && has_grad_[shapes_.images])
    grad_buf_[shapes_.images] = add(bytes_of(shapes_.images), grad_start_[shapes_.images], S - 1);
  steps_ = static_cast<size_t>(S);

  // Node-parallel plans run nodes out of schedule order: two buffers share memory only where one's
  // every use precedes the other's first write in every order (NodeParallelLiveTogether); where
  // that still takes too much memory, the plan runs its nodes in order after all.
  if (node_workers_ > 0) {
    arena_bytes_ = PlanMemory(req, NodeParallelLiveTogether(), &buf_offset_);
    if (arena_bytes_ > kNodeParallelMaxBytes) node_workers_ = 0;
  }
  if (node_workers_ == 0) arena_bytes_ = PlanMemory(req, &buf_offset_);
  naive_bytes_ = NaiveMemory(req);
  uint64_t param_bytes = 0;
  for (const auto& p : g.params) param_bytes += static_cast<uint64_t>(ir::Numel(p.shape)) * sizeof(float);
  uint64_t total = arena_bytes_ + ((training ? 3 : 1) + (options_.ema_decay > 0.0f ? 1 : 0)) * param_bytes;
  if (total > kMaxPlanBytes)
    return Status::Exhausted("plan: the graph needs " + GiB(total) + " for batch " + std::to_string(options_.batch) +
                             " (activations " + GiB(arena_bytes_) + "), more than the limit of " + GiB(kMaxPlanBytes));
  return Status::Ok();
}

Status CompiledPlan::BindParameters() {
  // Check the shapes the store already holds (so a conflict leaves the store as it was), bind
  // (creating the missing ones), then optimizer state for trainable ones; on a device backend each
  // through its device copy (residency.h).
  const ir::Graph& g = graph_;
  const int n = static_cast<int>(g.nodes.size());
  const bool training = options_.training;
  const auto& R = shapes_.node;
  for (const auto& p : g.params) {
    std::shared_ptr<StoredTensor> held = store_->Share(p.name);
    if (held && held->shape != p.shape)
      return Status::Invalid("param '" + p.name + "': the store holds shape " + ir::ShapeString(held->shape) +
                             " but the graph declares " + ir::ShapeString(p.shape));
  }
  for (const auto& p : g.params) {
    NASNET_RETURN_IF_ERROR(store_->Ensure(p.name, p.shape, p.init, p.trainable, p.weight_decay, options_.seed));
  }
  const bool device = !backend_->on_host();
  auto bind = [&](const std::string& name, std::shared_ptr<StoredTensor>* t, std::shared_ptr<DeviceCopy>* d,
                  float** ptr) -> Status {
    *t = store_->Share(name);
    if (!*t) return Status::Internal("param '" + name + "' vanished from the store while compiling");
    if (!device) {
      *ptr = (*t)->data.data();
      return Status::Ok();
    }
    NASNET_RETURN_IF_ERROR(DeviceCopy::Bind(name, *t, backend_, d));
    *ptr = (*d)->data();
    return Status::Ok();
  };
  slots_.resize(g.params.size());
  std::vector<char> used_in_backward(g.params.size(), 0);
  for (int i = 0; i < n; ++i)
    if (backward_[i])
      for (int p : R[i].params) used_in_backward[p] = 1;
  grad_floats_ = 0;
  norm_count_ = 0;
  for (size_t k = 0; k < g.params.size(); ++k) {
    const ir::Param& p = g.params[k];
    ParamSlot& s = slots_[k];
    s.decl = &p;
    if (options_.use_ema) {
      // An inference plan on the averages: the shadow stands in for the parameter.
      std::shared_ptr<StoredTensor> shadow = store_->Share(p.name + "#ema");
      if (!shadow)
        return Status::Invalid("param '" + p.name + "': the plan reads parameter averages (use_ema) but the store holds no '" +
                               p.name + "#ema'; train with an EMA decay first, or load a checkpoint that has them");
      if (shadow->shape != p.shape)
        return Status::Invalid("param '" + p.name + "#ema': the store holds shape " + ir::ShapeString(shadow->shape) +
                               " but the graph declares " + ir::ShapeString(p.shape));
      NASNET_RETURN_IF_ERROR(bind(p.name + "#ema", &s.value, &s.value_dev, &s.w));
    } else {
      NASNET_RETURN_IF_ERROR(bind(p.name, &s.value, &s.value_dev, &s.w));
    }
    s.n = s.value->data.size();
    if (training && options_.ema_decay > 0.0f) {
      // The shadow starts equal to the parameter (its host copy made current first); a shadow the
      // store already holds (a checkpoint's) is kept.
      const std::string name = p.name + "#ema";
      if (!store_->Find(name)) {
        NASNET_RETURN_IF_ERROR(SyncHost(s.value.get()));
        NASNET_RETURN_IF_ERROR(store_->Set(name, s.value->data.data(), s.n, &p.shape));
        if (StoredTensor* created = store_->Find(name)) created->trainable = created->weight_decay = false;
      }
      NASNET_RETURN_IF_ERROR(bind(name, &s.ema, &s.ema_dev, &s.e));
      if (s.ema->shape != p.shape)
        return Status::Invalid("param '" + name + "': the store holds shape " + ir::ShapeString(s.ema->shape) +
                               " but the graph declares " + ir::ShapeString(p.shape));
    }
    if (!training || !used_in_backward[k]) continue;
    s.grad_offset = static_cast<int64_t>(grad_floats_);
    grad_floats_ += (s.n + 63) / 64 * 64;  // 256-byte aligned
    if (!p.trainable) continue;
    s.norm_index = norm_count_++;
    ParamInit zeros, ones;
    ones.kind = ParamInit::Kind::kOnes;
    if (options_.optimizer == OptimizerKind::kSgd) {
      NASNET_RETURN_IF_ERROR(store_->Ensure(p.name + "#momentum", p.shape, zeros, false, false, options_.seed));
      NASNET_RETURN_IF_ERROR(bind(p.name + "#momentum", &s.state1, &s.state1_dev, &s.s1));
    } else {
      // RMSProp: mean square starts at 1 (TensorFlow's RMSPropOptimizer, as TF-slim NASNet trained).
      NASNET_RETURN_IF_ERROR(store_->Ensure(p.name + "#ms", p.shape, ones, false, false, options_.seed));
      NASNET_RETURN_IF_ERROR(store_->Ensure(p.name + "#mom", p.shape, zeros, false, false, options_.seed));
      NASNET_RETURN_IF_ERROR(bind(p.name + "#ms", &s.state1, &s.state1_dev, &s.s1));
      NASNET_RETURN_IF_ERROR(bind(p.name + "#mom", &s.state2, &s.state2_dev, &s.s2));
    }
  }
  node_param_slot_.assign(n, {});
  for (int i = 0; i < n; ++i) node_param_slot_[i] = R[i].params;
  return Status::Ok();
}

Status CompiledPlan::AllocateMemory() {
  // One arena for the memory plan, one block for the parameter gradients, the step block and its
  // host twin, and the input slots (Stage): host memory each, and on a device their device copies
  // and the fences ordering the copy stream with the steps.
  auto alloc = [&](size_t bytes, const char* what, void** out) -> Status {
    Status st = backend_->Allocate(std::max<size_t>(bytes, sizeof(float)), out);
    if (!st.ok()) return Status(st.code(), std::string("plan: allocating the ") + what + ": " + st.message());
    return Status::Ok();
  };
  void* p = nullptr;
  // A lane's plan runs on its lane's arena (CreateLanes); a parent runs nothing itself.
  if (!is_lane_) {
    NASNET_RETURN_IF_ERROR(alloc(is_parent_ ? 0 : arena_bytes_, "activations", &p));
    arena_ = static_cast<float*>(p);
  }
  NASNET_RETURN_IF_ERROR(alloc(grad_floats_ * sizeof(float), "parameter gradients", &p));
  grads_ = static_cast<float*>(p);
  NASNET_RETURN_IF_ERROR(alloc(step_block_bytes_, "step values", &step_block_));
  NASNET_RETURN_IF_ERROR(alloc(static_cast<size_t>(std::max(norm_count_, 1)) * sizeof(double), "norm partials", &p));
  partials_ = static_cast<double*>(p);
  NASNET_RETURN_IF_ERROR(backend_->AllocateHost(step_block_bytes_, &step_block_host_));
  new (step_block_host_) StepValues();
  for (int k = 0; k < random_count_; ++k) new (random_host(k)) RandomSlot();
  const size_t image_bytes = static_cast<size_t>(ir::Numel(input_shape())) * sizeof(float);
  const size_t label_bytes = static_cast<size_t>(options_.batch) * sizeof(int32_t);
  for (InputSlot& slot : inputs_) {
    NASNET_RETURN_IF_ERROR(backend_->AllocateHost(image_bytes + label_bytes, &slot.host));
    if (backend_->on_host()) continue;
    NASNET_RETURN_IF_ERROR(alloc(image_bytes, "images", &p));
    slot.images_dev = static_cast<float*>(p);
    NASNET_RETURN_IF_ERROR(alloc(label_bytes, "labels", &p));
    slot.labels_dev = static_cast<int32_t*>(p);
    NASNET_RETURN_IF_ERROR(backend_->CreateFence(&slot.uploaded));
    NASNET_RETURN_IF_ERROR(backend_->CreateFence(&slot.consumed));
  }
  return Status::Ok();
}

std::string CompiledPlan::KindOf(int i) const {
  const ir::Node& node = graph_.nodes[i];
  const ir::Resolved& r = shapes_.node[i];
  auto window = [](int kh, int kw, int sh, int dil) {
    std::string k = std::to_string(kh) + "x" + std::to_string(kw);
    if (sh != 1) k += " s" + std::to_string(sh);
    if (dil != 1) k += " d" + std::to_string(dil);
    return k;
  };
  if (IsDropPathAdd(i)) return "Add+DropPath";
  if (IsFused(i)) {
    const FusedChain& f = fused_[i];
    std::string k = "FusedConvBn ";
    if (f.relu >= 0) k += "relu+";
    if (f.dw >= 0) k += "dw" + window(f.shape.dw.kh, f.shape.dw.kw, f.shape.dw.sh, f.shape.dw.dh) + "+";
    return k + (node.op == Op::kAdd ? "pw+add" : "pw");
  }
  switch (node.op) {
    case Op::kConv: {
      const ConvShape& c = r.conv;
      std::string k = c.relu_in ? "Conv relu+" : "Conv ";
      if (is_depthwise(c)) k += "depthwise ";
      else if (c.groups > 1) k += "grouped ";
      return k + window(c.kh, c.kw, c.sh, c.dh);
    }
    case Op::kMaxPool:
    case Op::kAveragePool:
      return std::string(ir::OpName(node.op)) + " " + window(r.pool.kh, r.pool.kw, r.pool.sh, 1);
    default: return ir::OpName(node.op);
  }
}

Status CompiledPlan::Profile(std::vector<NodeProfile>* out) const {
  if (profile_.empty()) return Status::Invalid("plan: profiling is off: compile the plan with profile = true");
  // Lanes: every lane plan's times summed per node (thread time: lanes run at once).
  std::vector<NodeProfile> sum = profile_;
  for (const Lane& lane : lanes_)
    for (const auto& plan : lane.plans)
      for (size_t i = 0; i < sum.size(); ++i) {
        const NodeProfile& p = plan->profile_[i];
        sum[i].forward_ms += p.forward_ms;
        sum[i].backward_ms += p.backward_ms;
        sum[i].forward_calls += p.forward_calls;
        sum[i].backward_calls += p.backward_calls;
      }
  out->clear();
  for (const NodeProfile& p : sum)
    if (p.forward_calls > 0 || p.backward_calls > 0) out->push_back(p);
  return Status::Ok();
}

void CompiledPlan::ResetProfile() {
  for (NodeProfile& p : profile_) {
    p.forward_ms = p.backward_ms = 0;
    p.forward_calls = p.backward_calls = 0;
  }
  for (Lane& lane : lanes_)
    for (auto& plan : lane.plans) plan->ResetProfile();
}

std::vector<std::string> CompiledPlan::param_names() const {
  std::vector<std::string> names;
  for (const auto& p : graph_.params) names.push_back(p.name);
  return names;
}

std::vector<float> CompiledPlan::ParamGrad(const std::string& name) const {
  for (size_t k = 0; k < graph_.params.size(); ++k) {
    const ParamSlot& s = slots_[k];
    if (graph_.params[k].name != name || s.grad_offset < 0) continue;
    std::vector<float> out(s.n);
    if (!backend_->Download(out.data(), grads_ + s.grad_offset, s.n * sizeof(float)).ok()) return {};
    return out;
  }
  return {};
}

std::vector<float> CompiledPlan::InputGrad() const {
  if (grad_buf_.empty() || grad_buf_[shapes_.images] < 0) return {};
  std::vector<float> out(static_cast<size_t>(ir::Numel(input_shape())));
  if (!backend_->Download(out.data(), Grad(shapes_.images), out.size() * sizeof(float)).ok()) return {};
  return out;
}

Status CompiledPlan::SyncToStore() {
  for (ParamSlot& s : slots_)
    for (const auto* d : {&s.value_dev, &s.state1_dev, &s.state2_dev, &s.ema_dev})
      if (*d) NASNET_RETURN_IF_ERROR((*d)->SyncToHost());
  return Status::Ok();
}

std::string CompiledPlan::graph_status() const {
  if (backend_->on_host()) return "not used (the cpu runs steps directly)";
  if (!options_.graphs) return "off (PlanOptions.graphs = false)";
  if (options_.profile) return "off (profiling times each node)";
  std::string out;
  static const char* kModes[] = {"train", "evaluate", "predict"};
  for (int m = 0; m < 3; ++m) {
    std::string note = captured_[m] ? captured_[m]->note() : "not run yet";
    out += std::string(out.empty() ? "" : "; ") + kModes[m] + ": " + note;
  }
  return out;
}

}  // namespace plan
}  // namespace nasnet
