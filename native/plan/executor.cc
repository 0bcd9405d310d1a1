// Running a compiled plan: forward (training or inference semantics), backward, optimizer update.
// This file only sequences backend calls and computes where things are (backend.h for the calls);
// it never reads or writes backend memory itself, so the same sequence runs on the CPU and on a
// CUDA device, where a whole step can be captured once and replayed.
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>

#include "core/random.h"
#include "plan/plan_impl.h"
#include "plan/residency.h"

namespace nasnet::plan {

using ir::Op;

float* CompiledPlan::Value(int t) const {
  if (view_root_[t] >= 0) return Value(view_root_[t]) + view_offset_[t];
  t = value_root_[t];
  if (t == shapes_.images) return const_cast<float*>(images_);
  return arena_ + buf_offset_[value_buf_[t]] / sizeof(float);
}
size_t CompiledPlan::ImageStride(int t) const {
  if (view_root_[t] < 0) return 0;
  const auto& s = shapes_.tensor[view_root_[t]];
  return static_cast<size_t>(s[1] * s[2] * s[3]);
}
float* CompiledPlan::Grad(int t) const {
  t = grad_root_[t];
  return arena_ + buf_offset_[grad_buf_[t]] / sizeof(float);
}
float* CompiledPlan::AuxBuf(int i, int k) const {
  int b = aux_buf_[i][k];
  return b < 0 ? nullptr : arena_ + buf_offset_[b] / sizeof(float);
}
float* CompiledPlan::Param(int i, int k) const { return slots_[node_param_slot_[i][k]].w; }
float* CompiledPlan::PGrad(int i, int k) const {
  const ParamSlot& s = slots_[node_param_slot_[i][k]];
  return s.grad_offset < 0 ? nullptr : grads_ + s.grad_offset;
}

float* CompiledPlan::GradDest(int i, int j) const {
  int s = edge_scratch_[i][j];
  if (s >= 0) return arena_ + buf_offset_[s] / sizeof(float);
  if (edge_contrib_[i][j]) return Grad(shapes_.node[i].in[j]);
  return nullptr;
}

Status CompiledPlan::FinishGrad(int i, int j) {
  if (edge_scratch_[i][j] < 0 || !edge_contrib_[i][j]) return Status::Ok();
  int t = shapes_.node[i].in[j];
  return backend_->Accumulate(static_cast<size_t>(ir::Numel(shapes_.tensor[t])), GradDest(i, j), Grad(t));
}

Status CompiledPlan::CopyOrAdd(int i, int j, const float* src, size_t count) {
  if (!edge_contrib_[i][j]) return Status::Ok();
  float* dst = Grad(shapes_.node[i].in[j]);
  if (!edge_first_[i][j]) return backend_->Accumulate(count, src, dst);
  if (dst == src) return Status::Ok();  // the same buffer (aliased)
  return backend_->Copy(dst, src, count * sizeof(float));
}

Status CompiledPlan::CheckLabels(const int32_t* labels) const {
  if (labels == nullptr) return Status::Invalid("plan: labels are required");
  const int batch = options_.batch;
  for (int i = 0; i < batch; ++i) {
    if (labels[i] < 0 || labels[i] >= shapes_.classes)
      return Status::OutOfRange("labels[" + std::to_string(i) + "] = " + std::to_string(labels[i]) +
                                " is outside [0, " + std::to_string(shapes_.classes) + ")");
  }
  return Status::Ok();
}

Status CompiledPlan::PrepareChains(Mode mode) {
  if (is_lane_) return Status::Ok();
  const int n = static_cast<int>(graph_.nodes.size());
  std::vector<PreparedChain>& table = *prepared_;
  table.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    // The nodes that run a chain in inference: its BatchNormalization, or the Add it became.
    if (!active_[mode][i] || dead_[i] || !IsFused(i)) continue;
    const FusedConvBnShape& f = fused_[i].shape;
    const size_t floats = backend_->FusedConvBnPreparedFloats(f);
    if (floats == 0) continue;
    PreparedChain& c = table[static_cast<size_t>(i)];
    std::array<uint64_t, 5> versions;
    for (int k = 0; k < 5; ++k) versions[k] = slots_[node_param_slot_[i][k]].value->version;
    if (c.ready && c.versions == versions && c.floats.size() == floats) continue;
    c.ready = false;
    c.floats.resize(floats);
    NASNET_RETURN_IF_ERROR(backend_->FusedConvBnPrepare(f, Param(i, 4), Param(i, 0), Param(i, 1), Param(i, 2),
                                                        Param(i, 3), graph_.nodes[fused_[i].bn].epsilon,
                                                        c.floats.data()));
    c.versions = versions;
    c.ready = true;
  }
  return Status::Ok();
}

Status CompiledPlan::ForwardChainEval(int i, const float* x, const float* residual, float* y) {
  const FusedConvBnShape& f = fused_[i].shape;
  const PreparedChain* c = static_cast<size_t>(i) < prepared_->size() ? &(*prepared_)[static_cast<size_t>(i)] : nullptr;
  return backend_->FusedConvBnForwardEval(f, x, f.has_depthwise ? Param(i, 5) : nullptr, Param(i, 4), Param(i, 0),
                                          Param(i, 1), Param(i, 2), Param(i, 3), graph_.nodes[fused_[i].bn].epsilon,
                                          residual, y, ImageStride(n_inputs_ + i),
                                          c != nullptr && c->ready ? c->floats.data() : nullptr,
                                          AuxBuf(i, kAuxForwardScratch));
}

Status CompiledPlan::ForwardNode(int i, bool train) {
  const ir::Node& node = graph_.nodes[i];
  const ir::Resolved& r = shapes_.node[i];
  const int t = n_inputs_ + i;
  const auto& ys = shapes_.tensor[t];
  const size_t count = static_cast<size_t>(ir::Numel(ys));
  float* y = Value(t);
  const float* x = r.in.empty() ? nullptr : Value(r.in[0]);
  const auto& xs = r.in.empty() ? ys : shapes_.tensor[r.in[0]];
  const int N = options_.batch;
  Backend& b = *backend_;
  switch (node.op) {
    case Op::kConv: return b.ConvForward(r.conv, x, Param(i, 0), r.params.size() > 1 ? Param(i, 1) : nullptr, y);
    case Op::kBatchNorm: {
      if (IsFused(i)) {
        // The fused node's params: [gamma, beta, mean, var, w_pw, w_dw].
        const FusedConvBnShape& f = fused_[i].shape;
        const float* w_dw = f.has_depthwise ? Param(i, 5) : nullptr;
        if (train)
          return b.FusedConvBnForwardTrain(f, x, w_dw, Param(i, 4), Param(i, 0), Param(i, 1), node.epsilon,
                                           node.momentum, Param(i, 2), Param(i, 3), AuxBuf(i, kAuxT),
                                           AuxBuf(i, kAuxZ), y, AuxBuf(i, kAuxMean), AuxBuf(i, kAuxInvstd),
                                           AuxBuf(i, kAuxForwardScratch));
        return ForwardChainEval(i, x, nullptr, y);
      }
      const BatchNormShape s{N, r.bn_c, r.bn_hw};
      if (train)
        return b.BatchNormForwardTrain(s, x, Param(i, 0), Param(i, 1), node.epsilon, node.momentum, Param(i, 2),
                                       Param(i, 3), y, AuxBuf(i, kAuxMean), AuxBuf(i, kAuxInvstd));
      return b.BatchNormForwardEval(s, x, Param(i, 0), Param(i, 1), Param(i, 2), Param(i, 3), node.epsilon, y);
    }
    case Op::kRelu: return b.ReluForward(count, x, y);
    case Op::kMaxPool:
      return b.MaxPoolForward(r.pool, x, y, train ? reinterpret_cast<int32_t*>(AuxBuf(i, kAuxMask)) : nullptr);
    case Op::kAveragePool: return b.AvgPoolForward(r.pool, x, y);
    case Op::kGlobalAveragePool:
      return b.GlobalAvgPoolForward(N, static_cast<int>(xs[1]), static_cast<int>(xs[2] * xs[3]), x, y);
    case Op::kFlatten:
    case Op::kIdentity:
      if (value_root_[t] != t) return Status::Ok();  // y is x's buffer
      return b.Copy(y, x, count * sizeof(float));
    case Op::kGemm:
      return b.LinearForward(N, static_cast<int>(xs[1]), static_cast<int>(ys[1]), x, Param(i, 0),
                             r.params.size() > 1 ? Param(i, 1) : nullptr, y);
    case Op::kAdd: {
      if (IsFused(i)) return ForwardChainEval(i, x, Value(r.in[1]), y);  // the chain on input 0, plus input 1
      if (IsDropPathAdd(i)) {
        std::vector<const float*> xs;
        std::vector<const RandomSlot*> slots;
        std::vector<uint8_t*> masks;
        for (size_t j = 0; j < r.in.size(); ++j) {
          const int d = drop_in_[i][j];
          xs.push_back(Value(r.in[j]));
          slots.push_back(d < 0 ? nullptr : random(random_slot_[d]));
          masks.push_back(d < 0 || drop_mask_buf_[i][j] < 0
                              ? nullptr
                              : reinterpret_cast<uint8_t*>(arena_ + buf_offset_[drop_mask_buf_[i][j]] / sizeof(float)));
        }
        return b.AddDropPathForward(count, N, static_cast<int>(xs.size()), xs.data(), options_.seed, slots.data(),
                                    masks.data(), y);
      }
      NASNET_RETURN_IF_ERROR(b.AddForward(count, Value(r.in[0]), Value(r.in[1]), y));
      for (size_t j = 2; j < r.in.size(); ++j) NASNET_RETURN_IF_ERROR(b.Accumulate(count, Value(r.in[j]), y));
      return Status::Ok();
    }
    case Op::kConcat: {
      std::vector<const float*> ins;
      std::vector<int> channels;
      for (int u : r.in) {
        ins.push_back(view_root_[u] >= 0 ? nullptr : Value(u));  // null: written in place by its producer
        channels.push_back(static_cast<int>(shapes_.tensor[u][1]));
      }
      return b.ConcatForward(N, static_cast<int>(ys[2] * ys[3]), static_cast<int>(ins.size()), ins.data(),
                             channels.data(), y);
    }
    case Op::kPad:
      return b.PadForward(N, static_cast<int>(xs[1]), static_cast<int>(xs[2]), static_cast<int>(xs[3]),
                          static_cast<int>(node.pad8[2]), static_cast<int>(node.pad8[3]),
                          static_cast<int>(node.pad8[6]), static_cast<int>(node.pad8[7]), x, y);
    case Op::kSlice:
      return b.SliceForward(N, static_cast<int>(xs[1]), static_cast<int>(xs[2]), static_cast<int>(xs[3]), r.slice_h0,
                            r.slice_w0, r.slice_sh, r.slice_sw, static_cast<int>(ys[2]), static_cast<int>(ys[3]), x, y);
    case Op::kDropout:
      return b.DropoutForward(count, node.ratio, options_.seed, random(random_slot_[i]), x, y,
                              reinterpret_cast<uint8_t*>(AuxBuf(i, kAuxMask)));
    case Op::kDropPath:
      return b.DropPathForward(N, count / static_cast<size_t>(N), options_.seed, random(random_slot_[i]), x, y,
                               reinterpret_cast<uint8_t*>(AuxBuf(i, kAuxMask)));
    case Op::kSoftmaxCrossEntropy:
      return b.SoftmaxCrossEntropy(N, static_cast<int>(xs[1]), x, labels(), node.label_smoothing, nullptr, nullptr, y,
                                   nullptr, nullptr);
    case Op::kWeightedSum: {
      std::vector<const float*> ins;
      for (int u : r.in) ins.push_back(Value(u));
      return b.WeightedSum(static_cast<int>(ins.size()), ins.data(), node.weights.data(), y);
    }
  }
  return Status::Internal("plan: node '" + node.id + "' has an unknown op");
}

Status CompiledPlan::BackwardNode(int i) {
  const ir::Node& node = graph_.nodes[i];
  const ir::Resolved& r = shapes_.node[i];
  const int t = n_inputs_ + i;
  const auto& ys = shapes_.tensor[t];
  const size_t count = static_cast<size_t>(ir::Numel(ys));
  const float* dy = Grad(t);
  const float* x = r.in.empty() ? nullptr : Value(r.in[0]);
  const auto& xs = r.in.empty() ? ys : shapes_.tensor[r.in[0]];
  const int N = options_.batch;
  Backend& b = *backend_;
  switch (node.op) {
    case Op::kConv:
      NASNET_RETURN_IF_ERROR(b.ConvBackward(r.conv, x, Param(i, 0), dy, GradDest(i, 0), PGrad(i, 0),
                                            r.params.size() > 1 ? PGrad(i, 1) : nullptr));
      break;
    case Op::kBatchNorm:
      if (IsFused(i)) {
        const FusedConvBnShape& f = fused_[i].shape;
        const bool dw = f.has_depthwise;
        NASNET_RETURN_IF_ERROR(b.FusedConvBnBackward(
            f, x, dw ? Param(i, 5) : nullptr, Param(i, 4), Param(i, 0), AuxBuf(i, kAuxT), AuxBuf(i, kAuxZ),
            AuxBuf(i, kAuxMean), AuxBuf(i, kAuxInvstd), dy, GradDest(i, 0), dw ? PGrad(i, 5) : nullptr, PGrad(i, 4),
            PGrad(i, 0), PGrad(i, 1), AuxBuf(i, kAuxBackwardScratch)));
        break;
      }
      NASNET_RETURN_IF_ERROR(b.BatchNormBackward(BatchNormShape{N, r.bn_c, r.bn_hw}, x, dy, Param(i, 0),
                                                 AuxBuf(i, kAuxMean), AuxBuf(i, kAuxInvstd), GradDest(i, 0),
                                                 PGrad(i, 0), PGrad(i, 1)));
      break;
    case Op::kRelu: NASNET_RETURN_IF_ERROR(b.ReluBackward(count, Value(t), dy, GradDest(i, 0))); break;
    case Op::kMaxPool:
      NASNET_RETURN_IF_ERROR(
          b.MaxPoolBackward(r.pool, reinterpret_cast<const int32_t*>(AuxBuf(i, kAuxMask)), dy, GradDest(i, 0)));
      break;
    case Op::kAveragePool: NASNET_RETURN_IF_ERROR(b.AvgPoolBackward(r.pool, dy, GradDest(i, 0))); break;
    case Op::kGlobalAveragePool:
      NASNET_RETURN_IF_ERROR(b.GlobalAvgPoolBackward(N, static_cast<int>(xs[1]), static_cast<int>(xs[2] * xs[3]), dy,
                                                     GradDest(i, 0)));
      break;
    case Op::kFlatten:
    case Op::kIdentity: return CopyOrAdd(i, 0, dy, count);
    case Op::kGemm:
      NASNET_RETURN_IF_ERROR(b.LinearBackward(N, static_cast<int>(xs[1]), static_cast<int>(ys[1]), x, Param(i, 0), dy,
                                              GradDest(i, 0), PGrad(i, 0),
                                              r.params.size() > 1 ? PGrad(i, 1) : nullptr));
      break;
    case Op::kAdd:
      for (size_t j = 0; j < r.in.size(); ++j) {
        const int d = IsDropPathAdd(i) ? drop_in_[i][j] : -1;
        if (d < 0) {
          NASNET_RETURN_IF_ERROR(CopyOrAdd(i, static_cast<int>(j), dy, count));
          continue;
        }
        if (!edge_contrib_[i][j]) continue;
        const uint8_t* mask = reinterpret_cast<const uint8_t*>(arena_ + buf_offset_[drop_mask_buf_[i][j]] / sizeof(float));
        NASNET_RETURN_IF_ERROR(
            b.DropPathBackward(N, count / static_cast<size_t>(N), random(random_slot_[d]), mask, dy, GradDest(i, j)));
        NASNET_RETURN_IF_ERROR(FinishGrad(i, static_cast<int>(j)));
      }
      return Status::Ok();
    case Op::kConcat: {
      std::vector<float*> dxs;
      std::vector<int> channels;
      for (size_t j = 0; j < r.in.size(); ++j) {
        dxs.push_back(GradDest(i, static_cast<int>(j)));
        channels.push_back(static_cast<int>(shapes_.tensor[r.in[j]][1]));
      }
      NASNET_RETURN_IF_ERROR(b.ConcatBackward(N, static_cast<int>(ys[2] * ys[3]), static_cast<int>(dxs.size()), dy,
                                              channels.data(), dxs.data()));
      break;
    }
    case Op::kPad:
      NASNET_RETURN_IF_ERROR(b.PadBackward(N, static_cast<int>(xs[1]), static_cast<int>(xs[2]),
                                           static_cast<int>(xs[3]), static_cast<int>(node.pad8[2]),
                                           static_cast<int>(node.pad8[3]), static_cast<int>(node.pad8[6]),
                                           static_cast<int>(node.pad8[7]), dy, GradDest(i, 0)));
      break;
    case Op::kSlice:
      NASNET_RETURN_IF_ERROR(b.SliceBackward(N, static_cast<int>(xs[1]), static_cast<int>(xs[2]),
                                             static_cast<int>(xs[3]), r.slice_h0, r.slice_w0, r.slice_sh, r.slice_sw,
                                             static_cast<int>(ys[2]), static_cast<int>(ys[3]), dy, GradDest(i, 0)));
      break;
    case Op::kDropout:
      NASNET_RETURN_IF_ERROR(b.DropoutBackward(count, node.ratio, random(random_slot_[i]),
                                               reinterpret_cast<const uint8_t*>(AuxBuf(i, kAuxMask)), dy,
                                               GradDest(i, 0)));
      break;
    case Op::kDropPath:
      NASNET_RETURN_IF_ERROR(b.DropPathBackward(N, count / static_cast<size_t>(N), random(random_slot_[i]),
                                                reinterpret_cast<const uint8_t*>(AuxBuf(i, kAuxMask)), dy,
                                                GradDest(i, 0)));
      break;
    case Op::kSoftmaxCrossEntropy:
      // Recomputes the softmax rather than storing it: dlogits = dy * (softmax - target) / N.
      NASNET_RETURN_IF_ERROR(b.SoftmaxCrossEntropy(N, static_cast<int>(xs[1]), x, labels(), node.label_smoothing, dy,
                                                   GradDest(i, 0), nullptr, nullptr, nullptr));
      break;
    case Op::kWeightedSum:
      for (size_t j = 0; j < r.in.size(); ++j) {
        if (!edge_contrib_[i][j]) continue;
        NASNET_RETURN_IF_ERROR(b.ScaleScalar(dy, node.weights[j], !edge_first_[i][j], Grad(r.in[j])));
      }
      return Status::Ok();
  }
  for (size_t j = 0; j < r.in.size(); ++j) NASNET_RETURN_IF_ERROR(FinishGrad(i, static_cast<int>(j)));
  return Status::Ok();
}

Status CompiledPlan::InNode(int i, bool backward, Status st) const {
  if (st.ok()) return st;
  const ir::Node& node = graph_.nodes[i];
  return Status(st.code(), "node '" + node.id + "' (" + KindOf(i) + (backward ? ", backward" : ", forward") + " on " +
                               backend_->name() + "): " + st.message());
}

Status CompiledPlan::Timed(NodeProfile* p, bool backward, const std::function<Status()>& run) {
  if (p == nullptr) return run();
  double t0 = 0, t1 = 0;
  NASNET_RETURN_IF_ERROR(backend_->ProfileClockMs(&t0));
  NASNET_RETURN_IF_ERROR(run());
  NASNET_RETURN_IF_ERROR(backend_->ProfileClockMs(&t1));
  (backward ? p->backward_ms : p->forward_ms) += t1 - t0;
  ++(backward ? p->backward_calls : p->forward_calls);
  return Status::Ok();
}

Status CompiledPlan::Forward(Mode mode) {
  if (node_workers_ > 0 && mode != kTrain) return ForwardConcurrent(mode);
  const std::vector<char>& active = active_[mode];
  const int n = static_cast<int>(graph_.nodes.size());
  const bool train = mode == kTrain;
  for (int i = 0; i < n; ++i) {
    if (!active[i]) continue;
    NASNET_RETURN_IF_ERROR(
        Timed(profile_.empty() ? nullptr : &profile_[i], false, [&] { return InNode(i, false, ForwardNode(i, train)); }));
  }
  return Status::Ok();
}

Status CompiledPlan::Backward() {
  NASNET_RETURN_IF_ERROR(backend_->Zero(grads_, grad_floats_ * sizeof(float)));
  NASNET_RETURN_IF_ERROR(backend_->Fill(1, 1.0f, Grad(shapes_.loss)));
  for (int i = static_cast<int>(graph_.nodes.size()) - 1; i >= 0; --i) {
    if (!backward_[i]) continue;
    NASNET_RETURN_IF_ERROR(
        Timed(profile_.empty() ? nullptr : &profile_[i], true, [&] { return InNode(i, true, BackwardNode(i)); }));
  }
  // The global gradient norm (before clipping), and the clipping scale the update reads.
  for (const ParamSlot& s : slots_)
    if (s.norm_index >= 0) NASNET_RETURN_IF_ERROR(backend_->SumSquares(s.n, grads_ + s.grad_offset, partials_ + s.norm_index));
  return backend_->GlobalNorm(partials_, norm_count_, values());
}

Status CompiledPlan::Update() {
  auto run = [&]() -> Status {
    for (const ParamSlot& s : slots_) {
      if (s.norm_index < 0) continue;
      const float* g = grads_ + s.grad_offset;
      if (options_.optimizer == OptimizerKind::kSgd) {
        NASNET_RETURN_IF_ERROR(backend_->SgdUpdate(s.n, s.decl->weight_decay, values(), s.w, g, s.s1));
      } else {
        NASNET_RETURN_IF_ERROR(backend_->RmspropUpdate(s.n, s.decl->weight_decay, values(), s.w, g, s.s1, s.s2));
      }
    }
    // Parameter averages after the update, of every parameter (BN running statistics included).
    for (const ParamSlot& s : slots_)
      if (s.e != nullptr) NASNET_RETURN_IF_ERROR(backend_->EmaUpdate(s.n, values(), s.w, s.e));
    return Status::Ok();
  };
  return Timed(profile_.empty() ? nullptr : &profile_.back(), false, run);
}

Status CompiledPlan::Prepare(Mode mode, const StepHyper& hyper) {
  // Parameters current on this backend: a device plan uploads what the host changed; a CPU plan
  // reads back what a device step changed. A lane's parent did it for the lane.
  for (ParamSlot& s : slots_) {
    if (is_lane_) break;
    if (backend_->on_host()) {
      for (StoredTensor* t : {s.value.get(), s.state1.get(), s.state2.get(), s.ema.get()})
        if (t != nullptr) NASNET_RETURN_IF_ERROR(SyncHost(t));
    } else {
      for (const auto* d : {&s.value_dev, &s.state1_dev, &s.state2_dev, &s.ema_dev})
        if (*d) NASNET_RETURN_IF_ERROR((*d)->SyncToDevice());
    }
  }
  // Inference: the chains' folded weights, from the parameters as they are now.
  if (mode != kTrain) NASNET_RETURN_IF_ERROR(PrepareChains(mode));
  // The step's values, and its randomness: seed = options.seed, stream = hash(node index, step).
  StepValues& v = *values_host();
  v.lr = hyper.lr;
  v.momentum = hyper.momentum;
  v.weight_decay = hyper.weight_decay;
  v.clip_norm = hyper.clip_norm;
  v.rms_decay = hyper.rms_decay;
  v.rms_eps = hyper.rms_eps;
  v.nesterov = hyper.nesterov ? 1 : 0;
  const bool train = mode == kTrain;
  // TensorFlow's ExponentialMovingAverage with num_updates = step: the decay ramps up early on.
  const double t = static_cast<double>(hyper.step);
  v.ema_decay = train ? static_cast<float>(std::min<double>(options_.ema_decay, (1.0 + t) / (10.0 + t))) : 0.0f;
  for (int i = 0; i < static_cast<int>(graph_.nodes.size()); ++i) {
    if (random_slot_[i] < 0) continue;
    const ir::Node& node = graph_.nodes[i];
    RandomSlot& r = *random_host(random_slot_[i]);
    r.stream = mix64(static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ULL + hyper.step);
    if (node.op == Op::kDropPath) {
      r.keep = 1.0f - hyper.drop_path_rate * node.layer_ratio;
      r.active = train && r.keep < 1.0f;
    } else {
      r.keep = 1.0f - node.ratio;
      r.active = train && node.ratio > 0.0f;
    }
  }
  return Status::Ok();
}

Status CompiledPlan::RunMode(Mode mode, bool capture, const std::function<Status()>& step) {
  std::unique_ptr<CapturedStep> eager;
  capture = capture && options_.graphs && profile_.empty();
  InputSlot& slot = inputs_[step_slot_];
  // The inputs' upload ran on the copy stream: the step waits for it on the device (outside the
  // captured graph, so a replay waits too), and marks the slot's device copy free after it.
  if (!backend_->on_host()) NASNET_RETURN_IF_ERROR(backend_->StepWaits(slot.uploaded.get()));
  Status st = backend_->RunStep(capture ? &captured_[mode] : &eager, capture, step_slot_, [&]() -> Status {
    NASNET_RETURN_IF_ERROR(backend_->Upload(step_block_, step_block_host_, step_block_bytes_));
    return step();
  });
  if (!backend_->on_host()) {
    Status recorded = backend_->StepRecords(slot.consumed.get());
    if (st.ok()) st = recorded;
  }
  return st;
}

// ---- inputs ----

namespace {
// Staged batches are numbered across plans, so a batch of one plan is never taken for another's.
std::atomic<uint64_t> next_batch_id{1};
}  // namespace

Status CompiledPlan::Stage(const float* images, const int32_t* labels, StagedBatch* out) {
  if (images == nullptr) return Status::Invalid("plan: images are required");
  if (out == nullptr) return Status::Invalid("plan: Stage needs somewhere to write the staged batch");
  int k = -1;
  {
    std::lock_guard<std::mutex> lock(inputs_mu_);
    for (int d = 1; d <= kInputSlots && k < 0; ++d) {
      const int c = (last_slot_ + d) % kInputSlots;
      if (inputs_[c].state == InputSlot::kFree) k = c;
    }
    if (k < 0)
      return Status::Invalid("plan: both input slots are held (staged batches no step has run yet, or a step running): "
                             "run a staged batch before staging another");
    inputs_[k].state = InputSlot::kStaged;  // reserved: id 0 until the batch is in place
    inputs_[k].id = 0;
  }
  InputSlot& slot = inputs_[k];
  auto give_back = [&](Status st) {
    std::lock_guard<std::mutex> lock(inputs_mu_);
    slot.state = InputSlot::kFree;
    return st;
  };
  const size_t image_bytes = static_cast<size_t>(ir::Numel(input_shape())) * sizeof(float);
  const size_t label_bytes = static_cast<size_t>(options_.batch) * sizeof(int32_t);
  float* host_images = static_cast<float*>(slot.host);
  int32_t* host_labels = reinterpret_cast<int32_t*>(static_cast<char*>(slot.host) + image_bytes);
  // The slot's previous upload must have read the host copy before it is overwritten.
  if (!backend_->on_host()) {
    Status st = backend_->HostWaits(slot.uploaded.get());
    if (!st.ok()) return give_back(st);
  }
  std::memcpy(host_images, images, image_bytes);
  if (labels != nullptr) {
    std::memcpy(host_labels, labels, label_bytes);
    Status st = CheckLabels(host_labels);
    if (!st.ok()) return give_back(st);
  }
  if (!backend_->on_host()) {
    // After the last step that read the slot's device copy; labels after images, one fence.
    Status st = backend_->UploadAhead(slot.images_dev, host_images, image_bytes, slot.consumed.get(), slot.uploaded.get());
    if (st.ok() && labels != nullptr)
      st = backend_->UploadAhead(slot.labels_dev, host_labels, label_bytes, nullptr, slot.uploaded.get());
    if (!st.ok()) return give_back(st);
  }
  std::lock_guard<std::mutex> lock(inputs_mu_);
  slot.has_labels = labels != nullptr;
  slot.id = next_batch_id++;
  out->id = slot.id;
  return Status::Ok();
}

Status CompiledPlan::TakeSlot(Mode mode, const StagedBatch& batch, int* slot) {
  std::lock_guard<std::mutex> lock(inputs_mu_);
  for (int k = 0; k < kInputSlots; ++k) {
    InputSlot& s = inputs_[k];
    if (s.state != InputSlot::kStaged || s.id == 0 || s.id != batch.id) continue;
    if (mode != kPredict && !s.has_labels)
      return Status::Invalid("plan: staged batch #" + std::to_string(batch.id) +
                             " has no labels: stage it with labels to train or evaluate on it");
    s.state = InputSlot::kRunning;
    *slot = k;
    return Status::Ok();
  }
  return Status::Invalid("plan: batch #" + std::to_string(batch.id) +
                         " is not staged on this plan (a step ran it already, or another plan staged it)");
}

void CompiledPlan::ReleaseSlot(int slot) {
  std::lock_guard<std::mutex> lock(inputs_mu_);
  inputs_[slot].state = InputSlot::kFree;
  inputs_[slot].id = 0;
  last_slot_ = slot;
}

Status CompiledPlan::BindInputs(Mode mode, const StepInput& in, int* slot) {
  *slot = -1;
  StagedBatch own;
  const StagedBatch* batch = in.staged;
  if (batch == nullptr) {
    if (in.images == nullptr) return Status::Invalid("plan: images are required");
    if (mode != kPredict) NASNET_RETURN_IF_ERROR(CheckLabels(in.labels));
    if (backend_->on_host()) {  // the CPU reads the caller's arrays in place
      images_ = in.images;
      labels_ = in.labels;
      step_slot_ = 0;
      return Status::Ok();
    }
    NASNET_RETURN_IF_ERROR(Stage(in.images, mode == kPredict ? nullptr : in.labels, &own));
    batch = &own;
  }
  NASNET_RETURN_IF_ERROR(TakeSlot(mode, *batch, slot));
  const InputSlot& s = inputs_[*slot];
  const size_t image_bytes = static_cast<size_t>(ir::Numel(input_shape())) * sizeof(float);
  images_ = backend_->on_host() ? static_cast<const float*>(s.host) : s.images_dev;
  labels_ = backend_->on_host() ? reinterpret_cast<const int32_t*>(static_cast<const char*>(s.host) + image_bytes)
                                : s.labels_dev;
  step_slot_ = *slot;
  return Status::Ok();
}

void CompiledPlan::MarkParamsWritten() {
  for (ParamSlot& s : slots_) {
    if (backend_->on_host()) {
      for (StoredTensor* t : {s.value.get(), s.state1.get(), s.state2.get(), s.ema.get()})
        if (t != nullptr) MarkHostWritten(t);
    } else {
      for (const auto* d : {&s.value_dev, &s.state1_dev, &s.state2_dev, &s.ema_dev})
        if (*d) (*d)->MarkDeviceNewer();
    }
  }
}

Status CompiledPlan::TrainForwardBackward() {
  NASNET_RETURN_IF_ERROR(Forward(kTrain));
  NASNET_RETURN_IF_ERROR(backend_->Copy(&values()->loss_node, Value(shapes_.loss), sizeof(float)));
  NASNET_RETURN_IF_ERROR(backend_->SoftmaxCrossEntropy(options_.batch, shapes_.classes, Value(shapes_.logits), labels_,
                                                       0.0f, nullptr, nullptr, nullptr, nullptr, &values()->correct));
  return Backward();
}

namespace {
// Holds a step's input slot until the step returns.
struct SlotRelease {
  std::function<void(int)> release;
  int slot = -1;
  ~SlotRelease() {
    if (slot >= 0) release(slot);
  }
};
}  // namespace

Status CompiledPlan::Train(const StepInput& in, const StepHyper& hyper, bool update, StepResult* out) {
  if (!options_.training) return Status::Invalid("plan: TrainStep needs a plan compiled with training = true");
  if (!(hyper.drop_path_rate >= 0.0f && hyper.drop_path_rate < 1.0f))
    return Status::OutOfRange("plan: drop_path_rate must be in [0, 1) but is " + std::to_string(hyper.drop_path_rate));
  SlotRelease held{[this](int k) { ReleaseSlot(k); }};
  NASNET_RETURN_IF_ERROR(BindInputs(kTrain, in, &held.slot));
  NASNET_RETURN_IF_ERROR(Prepare(kTrain, hyper));
  // Without the update (tests, gradient checks), the caller reads gradients afterwards: not captured.
  NASNET_RETURN_IF_ERROR(RunMode(kTrain, update, [&]() -> Status {
    NASNET_RETURN_IF_ERROR(TrainForwardBackward());
    return update ? Update() : Status::Ok();
  }));
  StepValues v;
  NASNET_RETURN_IF_ERROR(backend_->Download(&v, values(), sizeof v));
  MarkParamsWritten();  // BatchNormalization's running statistics, and the update
  StepResult res;
  res.loss = v.loss_node;
  res.correct = v.correct;
  res.grad_norm = std::sqrt(v.sumsq);
  if (out) *out = res;
  return Status::Ok();
}

Status CompiledPlan::ForwardBackward(const float* images, const int32_t* labels, const StepHyper& hyper,
                                     StepResult* out) {
  return Train(StepInput{images, labels, nullptr}, hyper, false, out);
}

Status CompiledPlan::TrainStep(const float* images, const int32_t* labels, const StepHyper& hyper, StepResult* out) {
  return Train(StepInput{images, labels, nullptr}, hyper, true, out);
}

Status CompiledPlan::TrainStep(const StagedBatch& batch, const StepHyper& hyper, StepResult* out) {
  return Train(StepInput{nullptr, nullptr, &batch}, hyper, true, out);
}

Status CompiledPlan::EvaluateInput(const StepInput& in, EvalResult* out) {
  SlotRelease held{[this](int k) { ReleaseSlot(k); }};
  NASNET_RETURN_IF_ERROR(BindInputs(kEval, in, &held.slot));
  NASNET_RETURN_IF_ERROR(Prepare(kEval, StepHyper()));
  if (!lanes_.empty()) return RunLanes(kEval, nullptr, out);
  NASNET_RETURN_IF_ERROR(RunMode(kEval, true, [&]() -> Status {
    NASNET_RETURN_IF_ERROR(Forward(kEval));
    // The graph's loss node in inference mode; without one, plain cross-entropy of outputs[0].
    NASNET_RETURN_IF_ERROR(backend_->SoftmaxCrossEntropy(options_.batch, shapes_.classes, Value(shapes_.logits),
                                                         labels_, 0.0f, nullptr, nullptr, nullptr, &values()->loss,
                                                         &values()->correct));
    if (shapes_.loss >= 0)
      NASNET_RETURN_IF_ERROR(backend_->Copy(&values()->loss_node, Value(shapes_.loss), sizeof(float)));
    return Status::Ok();
  }));
  StepValues v;
  NASNET_RETURN_IF_ERROR(backend_->Download(&v, values(), sizeof v));
  if (out) *out = EvalResult{shapes_.loss >= 0 ? v.loss_node : v.loss, v.correct};
  return Status::Ok();
}

Status CompiledPlan::Evaluate(const float* images, const int32_t* labels, EvalResult* out) {
  return EvaluateInput(StepInput{images, labels, nullptr}, out);
}

Status CompiledPlan::Evaluate(const StagedBatch& batch, EvalResult* out) {
  return EvaluateInput(StepInput{nullptr, nullptr, &batch}, out);
}

Status CompiledPlan::PredictInput(const StepInput& in, float* logits) {
  if (logits == nullptr) return Status::Invalid("plan: logits output is null");
  SlotRelease held{[this](int k) { ReleaseSlot(k); }};
  NASNET_RETURN_IF_ERROR(BindInputs(kPredict, in, &held.slot));
  NASNET_RETURN_IF_ERROR(Prepare(kPredict, StepHyper()));
  if (!lanes_.empty()) return RunLanes(kPredict, logits, nullptr);
  NASNET_RETURN_IF_ERROR(RunMode(kPredict, true, [&] { return Forward(kPredict); }));
  return backend_->Download(logits, Value(shapes_.logits),
                            static_cast<size_t>(options_.batch) * static_cast<size_t>(shapes_.classes) * sizeof(float));
}

Status CompiledPlan::Predict(const float* images, float* logits) {
  return PredictInput(StepInput{images, nullptr, nullptr}, logits);
}

Status CompiledPlan::Predict(const StagedBatch& batch, float* logits) {
  return PredictInput(StepInput{nullptr, nullptr, &batch}, logits);
}

}  // namespace nasnet::plan
