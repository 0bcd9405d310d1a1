// Running a compiled plan: forward (training or inference semantics), backward, optimizer update.
// All math is in native/cpu kernels; this file only sequences them and moves pointers.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "core/random.h"
#include "cpu/kernels.h"
#include "plan/plan_impl.h"

namespace nasnet::plan {

using ir::Op;

namespace {
using Clock = std::chrono::steady_clock;
double MsSince(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }
}  // namespace

float* CompiledPlan::Value(int t) const {
  t = value_root_[t];
  if (t == shapes_.images) return const_cast<float*>(images_);
  return arena_.get() + buf_offset_[value_buf_[t]] / sizeof(float);
}
float* CompiledPlan::Grad(int t) const {
  t = grad_root_[t];
  return arena_.get() + buf_offset_[grad_buf_[t]] / sizeof(float);
}
float* CompiledPlan::Aux(int i, int k) const {
  int b = aux_buf_[i][k];
  return b < 0 ? nullptr : arena_.get() + buf_offset_[b] / sizeof(float);
}
float* CompiledPlan::Param(int i, int k) const {
  if (graph_.nodes[i].op == Op::kGemm && k == 1 && node_param_slot_[i].size() == 1)
    return const_cast<float*>(zero_bias_[i].data());
  return slots_[node_param_slot_[i][k]].value->data.data();
}
float* CompiledPlan::PGrad(int i, int k) {
  if (graph_.nodes[i].op == Op::kGemm && k == 1 && node_param_slot_[i].size() == 1) return zero_bias_grad_[i].data();
  return slots_[node_param_slot_[i][k]].grad.data();
}

float* CompiledPlan::GradDest(int i, int j) const {
  int s = edge_scratch_[i][j];
  if (s >= 0) return arena_.get() + buf_offset_[s] / sizeof(float);
  if (edge_contrib_[i][j]) return Grad(shapes_.node[i].in[j]);
  return nullptr;
}

void CompiledPlan::FinishGrad(int i, int j) {
  if (edge_scratch_[i][j] < 0 || !edge_contrib_[i][j]) return;
  int t = shapes_.node[i].in[j];
  cpu::accumulate(static_cast<size_t>(ir::Numel(shapes_.tensor[t])), GradDest(i, j), Grad(t));
}

void CompiledPlan::CopyOrAdd(int i, int j, const float* src, size_t count) {
  if (!edge_contrib_[i][j]) return;
  float* dst = Grad(shapes_.node[i].in[j]);
  if (edge_first_[i][j]) {
    if (dst != src) std::memcpy(dst, src, count * sizeof(float));  // else the same buffer (aliased)
  } else {
    cpu::accumulate(count, src, dst);
  }
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

void CompiledPlan::ForwardNode(int i, bool train, const int32_t* labels, const StepHyper& hyper) {
  const ir::Node& node = graph_.nodes[i];
  const ir::Resolved& r = shapes_.node[i];
  const int t = n_inputs_ + i;
  const auto& ys = shapes_.tensor[t];
  const size_t count = static_cast<size_t>(ir::Numel(ys));
  float* y = Value(t);
  const float* x = r.in.empty() ? nullptr : Value(r.in[0]);
  const auto& xs = r.in.empty() ? ys : shapes_.tensor[r.in[0]];
  const int N = options_.batch;
  // Randomness of this node at this step: seed = options.seed, stream = hash(node index, step).
  const uint64_t stream = mix64(static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ULL + hyper.step);
  switch (node.op) {
    case Op::kConv:
      cpu::conv2d_forward(r.conv, x, Param(i, 0), r.params.size() > 1 ? Param(i, 1) : nullptr, y);
      break;
    case Op::kBatchNorm: {
      BatchNormShape s{N, r.bn_c, r.bn_hw};
      if (IsFused(i)) {
        const FusedConvBnShape& f = fused_[i].shape;
        const float* w_dw = f.has_depthwise ? Param(i, 5) : nullptr;
        if (train) {
          cpu::fused_conv_bn_forward_train(f, x, w_dw, Param(i, 4), Param(i, 0), Param(i, 1), node.epsilon,
                                           node.momentum, Param(i, 2), Param(i, 3), Aux(i, 3), Aux(i, 2), y, Aux(i, 0),
                                           Aux(i, 1));
        } else {
          cpu::fused_conv_bn_forward_eval(f, x, w_dw, Param(i, 4), Param(i, 0), Param(i, 1), Param(i, 2), Param(i, 3),
                                          node.epsilon, y);
        }
      } else if (train) {
        cpu::batchnorm_forward_train(s, x, Param(i, 0), Param(i, 1), node.epsilon, node.momentum, Param(i, 2),
                                     Param(i, 3), y, Aux(i, 0), Aux(i, 1));
      } else {
        cpu::batchnorm_forward_eval(s, x, Param(i, 0), Param(i, 1), Param(i, 2), Param(i, 3), node.epsilon, y);
      }
      break;
    }
    case Op::kRelu: cpu::relu_forward(count, x, y); break;
    case Op::kMaxPool:
      cpu::maxpool_forward(r.pool, x, y, train ? reinterpret_cast<int32_t*>(Aux(i, 0)) : nullptr);
      break;
    case Op::kAveragePool: cpu::avgpool_forward(r.pool, x, y); break;
    case Op::kGlobalAveragePool:
      cpu::global_avgpool_forward(N, static_cast<int>(xs[1]), static_cast<int>(xs[2] * xs[3]), x, y);
      break;
    case Op::kFlatten:
    case Op::kIdentity:
      if (value_root_[t] == t) std::memcpy(y, x, count * sizeof(float));  // else y is x's buffer
      break;
    case Op::kGemm:
      cpu::linear_forward(N, static_cast<int>(xs[1]), static_cast<int>(ys[1]), x, Param(i, 0), Param(i, 1), y);
      break;
    case Op::kAdd:
      cpu::add_forward(count, Value(r.in[0]), Value(r.in[1]), y);
      for (size_t j = 2; j < r.in.size(); ++j) cpu::accumulate(count, Value(r.in[j]), y);
      break;
    case Op::kConcat: {
      std::vector<const float*> ins;
      std::vector<int> channels;
      for (int u : r.in) {
        ins.push_back(Value(u));
        channels.push_back(static_cast<int>(shapes_.tensor[u][1]));
      }
      cpu::concat_forward(N, static_cast<int>(ys[2] * ys[3]), static_cast<int>(ins.size()), ins.data(),
                          channels.data(), y);
      break;
    }
    case Op::kPad:
      cpu::pad_forward(N, static_cast<int>(xs[1]), static_cast<int>(xs[2]), static_cast<int>(xs[3]),
                       static_cast<int>(node.pad8[2]), static_cast<int>(node.pad8[3]), static_cast<int>(node.pad8[6]),
                       static_cast<int>(node.pad8[7]), x, y);
      break;
    case Op::kSlice:
      cpu::slice_forward(N, static_cast<int>(xs[1]), static_cast<int>(xs[2]), static_cast<int>(xs[3]), r.slice_h0,
                         r.slice_w0, r.slice_sh, r.slice_sw, static_cast<int>(ys[2]), static_cast<int>(ys[3]), x, y);
      break;
    case Op::kDropout:
      drop_identity_[i] = !train || node.ratio <= 0.0f;
      if (drop_identity_[i]) {
        if (y != x) std::memcpy(y, x, count * sizeof(float));
      } else {
        cpu::dropout_forward(count, node.ratio, options_.seed, stream, x, y, reinterpret_cast<uint8_t*>(Aux(i, 0)));
      }
      break;
    case Op::kDropPath: {
      float keep = 1.0f - hyper.drop_path_rate * node.layer_ratio;
      drop_keep_[i] = keep;
      drop_identity_[i] = !train || keep >= 1.0f;
      if (drop_identity_[i]) {
        if (y != x) std::memcpy(y, x, count * sizeof(float));
      } else {
        cpu::droppath_forward(N, count / static_cast<size_t>(N), keep, options_.seed, stream, x, y,
                              reinterpret_cast<uint8_t*>(Aux(i, 0)));
      }
      break;
    }
    case Op::kSoftmaxCrossEntropy:
      y[0] = static_cast<float>(cpu::softmax_cross_entropy(N, static_cast<int>(xs[1]), x, labels,
                                                           node.label_smoothing, 1.0f, nullptr, nullptr));
      break;
    case Op::kWeightedSum: {
      double sum = 0;
      for (size_t j = 0; j < r.in.size(); ++j) sum += static_cast<double>(node.weights[j]) * Value(r.in[j])[0];
      y[0] = static_cast<float>(sum);
      break;
    }
  }
}

void CompiledPlan::BackwardNode(int i, const int32_t* labels) {
  const ir::Node& node = graph_.nodes[i];
  const ir::Resolved& r = shapes_.node[i];
  const int t = n_inputs_ + i;
  const auto& ys = shapes_.tensor[t];
  const size_t count = static_cast<size_t>(ir::Numel(ys));
  const float* dy = Grad(t);
  const float* x = r.in.empty() ? nullptr : Value(r.in[0]);
  const auto& xs = r.in.empty() ? ys : shapes_.tensor[r.in[0]];
  const int N = options_.batch;
  switch (node.op) {
    case Op::kConv:
      cpu::conv2d_backward(r.conv, x, Param(i, 0), dy, GradDest(i, 0), PGrad(i, 0),
                           r.params.size() > 1 ? PGrad(i, 1) : nullptr);
      break;
    case Op::kBatchNorm:
      if (IsFused(i)) {
        const FusedConvBnShape& f = fused_[i].shape;
        const bool dw = f.has_depthwise;
        cpu::fused_conv_bn_backward(f, x, dw ? Param(i, 5) : nullptr, Param(i, 4), Param(i, 0), Aux(i, 3), Aux(i, 2),
                                    Aux(i, 0), Aux(i, 1), dy, GradDest(i, 0), dw ? PGrad(i, 5) : nullptr, PGrad(i, 4),
                                    PGrad(i, 0), PGrad(i, 1));
        break;
      }
      cpu::batchnorm_backward(BatchNormShape{N, r.bn_c, r.bn_hw}, x, dy, Param(i, 0), Aux(i, 0), Aux(i, 1),
                              GradDest(i, 0), PGrad(i, 0), PGrad(i, 1));
      break;
    case Op::kRelu: cpu::relu_backward(count, Value(t), dy, GradDest(i, 0)); break;
    case Op::kMaxPool:
      cpu::maxpool_backward(r.pool, reinterpret_cast<const int32_t*>(Aux(i, 0)), dy, GradDest(i, 0));
      break;
    case Op::kAveragePool: cpu::avgpool_backward(r.pool, dy, GradDest(i, 0)); break;
    case Op::kGlobalAveragePool:
      cpu::global_avgpool_backward(N, static_cast<int>(xs[1]), static_cast<int>(xs[2] * xs[3]), dy, GradDest(i, 0));
      break;
    case Op::kFlatten:
    case Op::kIdentity: CopyOrAdd(i, 0, dy, count); return;
    case Op::kGemm:
      cpu::linear_backward(N, static_cast<int>(xs[1]), static_cast<int>(ys[1]), x, Param(i, 0), dy, GradDest(i, 0),
                           PGrad(i, 0), PGrad(i, 1));
      break;
    case Op::kAdd:
      for (size_t j = 0; j < r.in.size(); ++j) CopyOrAdd(i, static_cast<int>(j), dy, count);
      return;
    case Op::kConcat: {
      std::vector<float*> dxs;
      std::vector<int> channels;
      for (size_t j = 0; j < r.in.size(); ++j) {
        dxs.push_back(GradDest(i, static_cast<int>(j)));
        channels.push_back(static_cast<int>(shapes_.tensor[r.in[j]][1]));
      }
      cpu::concat_backward(N, static_cast<int>(ys[2] * ys[3]), static_cast<int>(dxs.size()), dy, channels.data(),
                           dxs.data());
      break;
    }
    case Op::kPad:
      cpu::pad_backward(N, static_cast<int>(xs[1]), static_cast<int>(xs[2]), static_cast<int>(xs[3]),
                        static_cast<int>(node.pad8[2]), static_cast<int>(node.pad8[3]),
                        static_cast<int>(node.pad8[6]), static_cast<int>(node.pad8[7]), dy, GradDest(i, 0));
      break;
    case Op::kSlice:
      cpu::slice_backward(N, static_cast<int>(xs[1]), static_cast<int>(xs[2]), static_cast<int>(xs[3]), r.slice_h0,
                          r.slice_w0, r.slice_sh, r.slice_sw, static_cast<int>(ys[2]), static_cast<int>(ys[3]), dy,
                          GradDest(i, 0));
      break;
    case Op::kDropout:
      if (drop_identity_[i]) {
        CopyOrAdd(i, 0, dy, count);
        return;
      }
      cpu::dropout_backward(count, node.ratio, reinterpret_cast<const uint8_t*>(Aux(i, 0)), dy, GradDest(i, 0));
      break;
    case Op::kDropPath:
      if (drop_identity_[i]) {
        CopyOrAdd(i, 0, dy, count);
        return;
      }
      cpu::droppath_backward(N, count / static_cast<size_t>(N), drop_keep_[i],
                             reinterpret_cast<const uint8_t*>(Aux(i, 0)), dy, GradDest(i, 0));
      break;
    case Op::kSoftmaxCrossEntropy:
      // Recomputes the softmax rather than storing it: dlogits = dy * (softmax - target) / N.
      cpu::softmax_cross_entropy(N, static_cast<int>(xs[1]), x, labels, node.label_smoothing, dy[0], GradDest(i, 0),
                                 nullptr);
      break;
    case Op::kWeightedSum:
      for (size_t j = 0; j < r.in.size(); ++j) {
        if (!edge_contrib_[i][j]) continue;
        float* d = Grad(r.in[j]);
        float v = node.weights[j] * dy[0];
        d[0] = edge_first_[i][j] ? v : d[0] + v;
      }
      return;
  }
  for (size_t j = 0; j < r.in.size(); ++j) FinishGrad(i, static_cast<int>(j));
}

Status CompiledPlan::Forward(Mode mode, const float* images, const int32_t* labels, const StepHyper& hyper) {
  if (images == nullptr) return Status::Invalid("plan: images are required");
  images_ = images;
  const std::vector<char>& active =
      mode == Mode::kTrain ? active_train_ : mode == Mode::kEval ? active_eval_ : active_predict_;
  const int n = static_cast<int>(graph_.nodes.size());
  const bool train = mode == Mode::kTrain;
  for (int i = 0; i < n; ++i) {
    if (!active[i]) continue;
    if (profile_.empty()) {
      ForwardNode(i, train, labels, hyper);
      continue;
    }
    const Clock::time_point t0 = Clock::now();
    ForwardNode(i, train, labels, hyper);
    profile_[i].forward_ms += MsSince(t0);
    ++profile_[i].forward_calls;
  }
  return Status::Ok();
}

Status CompiledPlan::Backward(const int32_t* labels, const StepHyper& hyper) {
  (void)hyper;
  for (auto& s : slots_) std::fill(s.grad.begin(), s.grad.end(), 0.0f);
  for (auto& z : zero_bias_grad_) std::fill(z.begin(), z.end(), 0.0f);
  Grad(shapes_.loss)[0] = 1.0f;
  for (int i = static_cast<int>(graph_.nodes.size()) - 1; i >= 0; --i) {
    if (!backward_[i]) continue;
    if (profile_.empty()) {
      BackwardNode(i, labels);
      continue;
    }
    const Clock::time_point t0 = Clock::now();
    BackwardNode(i, labels);
    profile_[i].backward_ms += MsSince(t0);
    ++profile_[i].backward_calls;
  }
  return Status::Ok();
}

Status CompiledPlan::ForwardBackward(const float* images, const int32_t* labels, const StepHyper& hyper,
                                     StepResult* out) {
  if (!options_.training) return Status::Invalid("plan: TrainStep needs a plan compiled with training = true");
  if (!(hyper.drop_path_rate >= 0.0f && hyper.drop_path_rate < 1.0f))
    return Status::OutOfRange("plan: drop_path_rate must be in [0, 1) but is " + std::to_string(hyper.drop_path_rate));
  NASNET_RETURN_IF_ERROR(CheckLabels(labels));
  NASNET_RETURN_IF_ERROR(Forward(Mode::kTrain, images, labels, hyper));
  StepResult res;
  res.loss = Value(shapes_.loss)[0];
  cpu::softmax_cross_entropy(options_.batch, shapes_.classes, Value(shapes_.logits), labels, 0.0f, 1.0f, nullptr,
                             &res.correct);
  NASNET_RETURN_IF_ERROR(Backward(labels, hyper));
  double sq = 0;
  for (const auto& s : slots_)
    if (s.decl->trainable && !s.grad.empty()) sq += cpu::sum_squares(s.grad.size(), s.grad.data());
  res.grad_norm = std::sqrt(sq);
  if (out) *out = res;
  return Status::Ok();
}

Status CompiledPlan::TrainStep(const float* images, const int32_t* labels, const StepHyper& hyper, StepResult* out) {
  StepResult res;
  NASNET_RETURN_IF_ERROR(ForwardBackward(images, labels, hyper, &res));
  const Clock::time_point t0 = Clock::now();
  float scale = 1.0f;
  if (hyper.clip_norm > 0 && std::isfinite(res.grad_norm) && res.grad_norm > hyper.clip_norm)
    scale = static_cast<float>(hyper.clip_norm / res.grad_norm);
  for (auto& s : slots_) {
    if (!s.decl->trainable || s.grad.empty()) continue;
    const float wd = s.decl->weight_decay ? hyper.weight_decay : 0.0f;
    float* w = s.value->data.data();
    if (options_.optimizer == OptimizerKind::kSgd) {
      cpu::sgd_momentum_update(s.grad.size(), hyper.lr, hyper.momentum, hyper.nesterov, wd, scale, w, s.grad.data(),
                               s.state1->data.data());
    } else {
      cpu::rmsprop_update(s.grad.size(), hyper.lr, hyper.rms_decay, hyper.momentum, hyper.rms_eps, wd, scale, w,
                          s.grad.data(), s.state1->data.data(), s.state2->data.data());
    }
  }
  if (!profile_.empty()) {
    profile_.back().forward_ms += MsSince(t0);
    ++profile_.back().forward_calls;
  }
  if (out) *out = res;
  return Status::Ok();
}

Status CompiledPlan::Evaluate(const float* images, const int32_t* labels, EvalResult* out) {
  NASNET_RETURN_IF_ERROR(CheckLabels(labels));
  NASNET_RETURN_IF_ERROR(Forward(Mode::kEval, images, labels, StepHyper()));
  EvalResult res;
  // The graph's loss node in inference mode; without one, plain cross-entropy of outputs[0].
  double plain = cpu::softmax_cross_entropy(options_.batch, shapes_.classes, Value(shapes_.logits), labels, 0.0f,
                                            1.0f, nullptr, &res.correct);
  res.loss = shapes_.loss >= 0 ? Value(shapes_.loss)[0] : plain;
  if (out) *out = res;
  return Status::Ok();
}

Status CompiledPlan::Predict(const float* images, float* logits) {
  if (logits == nullptr) return Status::Invalid("plan: logits output is null");
  NASNET_RETURN_IF_ERROR(Forward(Mode::kPredict, images, nullptr, StepHyper()));
  std::memcpy(logits, Value(shapes_.logits),
              static_cast<size_t>(options_.batch) * static_cast<size_t>(shapes_.classes) * sizeof(float));
  return Status::Ok();
}

}  // namespace nasnet::plan
