// The compiled plan behind Plan (engine.h): IR → shapes → schedule → memory plan → executor.
//
// Schedule: nodes run in IR order (the IR is topologically ordered). A training plan has 2n steps:
// forward of node i is step i, backward of node i is step 2n-1-i. Every activation, activation
// gradient, saved statistic (BN mean/invstd, max-pool argmax, dropout masks) and gradient scratch is
// a buffer with a live interval over those steps; memory.cc packs them into one arena.
//
// Modes: TrainStep runs the training semantics (batch statistics, Dropout/DropPath, loss, backward,
// optimizer); Evaluate and Predict run inference semantics on any plan (running statistics,
// Dropout/DropPath as identities, loss nodes only in Evaluate). Each runs only the nodes its results
// depend on (Predict skips the auxiliary head and the losses); a subset of the schedule is always
// safe in the same arena, since every buffer keeps its step interval.
//
// Common subexpressions: parameter-free deterministic nodes (Relu, pools, Pad, Slice, Add, Concat,
// Flatten, Identity, GlobalAveragePool) that repeat an earlier node's op, attributes and inputs are
// merged into it before scheduling. NASNet cells apply ReLU (or a pool) to the same hidden state in
// several branches; merging computes and stores it once (and its gradient sums over the branches).
//
// Fusion (options.fuse): a BatchNormalization whose input is a bias-free pointwise Conv (1×1, stride
// 1, one group), optionally fed by a bias-free depthwise Conv, becomes one fused node: the BN node
// takes the chain's input and the chain's parameters and the Convs die (cpu::fused_conv_bn_*). The
// intermediate tensors must have no other reader. A Relu before the chains is absorbed (applied on
// the fly, never stored) when fused chains are all that read it; otherwise it runs anyway and the
// chains read its output, so that its input is not kept alive as well. In training the fused node keeps t (depthwise output) and z (pointwise output) as aux
// buffers for backward; r = relu(x) and the gradients of r, t, z are never stored. Identity and
// Flatten outputs alias their input's buffer (the buffer lives as long as either is read), and so
// do DropPath and Dropout (in place) where their input has no other use. In backward, an Add,
// Identity or Flatten passes its output gradient's buffer on to one input it writes first.
//
// Gradients at fan-out: a tensor read by several nodes gets its gradient written (=) by the first
// consumer in backward order and accumulated (+=) by the others, through a scratch buffer when the
// consumer's kernel writes (=) its dx.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "plan/engine.h"
#include "plan/ir.h"

namespace nasnet::plan {

// Total bytes a plan may hold (arena, parameter gradients): larger graphs fail at compile time.
constexpr uint64_t kMaxPlanBytes = uint64_t{64} << 30;

class CompiledPlan : public Plan {
 public:
  // `input_grad` also computes d loss / d images (tests: InputGrad()).
  static Status Create(const std::string& ir_json, std::shared_ptr<ParameterStore> store, const PlanOptions& options,
                       bool input_grad, std::unique_ptr<CompiledPlan>* out);

  Status TrainStep(const float* images, const int32_t* labels, const StepHyper& hyper, StepResult* out) override;
  Status Evaluate(const float* images, const int32_t* labels, EvalResult* out) override;
  Status Predict(const float* images, float* logits) override;
  std::vector<int64_t> input_shape() const override { return shapes_.tensor[shapes_.images]; }
  int classes() const override { return shapes_.classes; }
  size_t activation_bytes() const override { return arena_bytes_; }
  size_t naive_activation_bytes() const override { return naive_bytes_; }
  std::vector<std::string> param_names() const override;
  Status Profile(std::vector<NodeProfile>* out) const override;
  void ResetProfile() override;

  // Forward and backward with training semantics, no update: loss, correct, grad_norm (unclipped).
  // Parameter gradients are then in ParamGrad(), d loss / d images in InputGrad().
  Status ForwardBackward(const float* images, const int32_t* labels, const StepHyper& hyper, StepResult* out);
  const std::vector<float>* ParamGrad(const std::string& name) const;
  const float* InputGrad() const;
  int steps() const { return static_cast<int>(steps_); }
  // Nodes merged into an identical earlier node (see "Common subexpressions" above).
  int merged_nodes() const override { return merged_; }
  // Chains fused into one kernel, and tensors sharing their input's buffer (see "Fusion" above).
  int fused_chains() const override { return fused_chains_; }
  int aliased_tensors() const override { return aliased_; }
  // Gradients that share the buffer of the gradient they pass through (Add, Identity, Flatten).
  int aliased_gradients() const override { return grad_aliased_; }

 private:
  struct ParamSlot {
    std::shared_ptr<StoredTensor> value;
    std::vector<float> grad;
    std::shared_ptr<StoredTensor> state1, state2;  // momentum, or RMSProp ms and mom
    const ir::Param* decl = nullptr;
  };
  enum class Mode { kTrain, kEval, kPredict };
  // A chain fused into its BatchNormalization node (relu, dw: node indices or -1; pw: -1 = not fused).
  struct FusedChain {
    int relu = -1, dw = -1, pw = -1;
    FusedConvBnShape shape{};
  };

  Status Build(bool input_grad);
  void MergeCommonSubexpressions();
  void FuseChains();
  // Readers of each tensor among the nodes that run; the graph's results count as readers.
  std::vector<int> CountReaders() const;
  bool IsFused(int i) const { return fused_[i].pw >= 0; }
  Status CheckLabels(const int32_t* labels) const;
  Status Forward(Mode mode, const float* images, const int32_t* labels, const StepHyper& hyper);
  Status Backward(const int32_t* labels, const StepHyper& hyper);
  void ForwardNode(int i, bool train, const int32_t* labels, const StepHyper& hyper);
  void BackwardNode(int i, const int32_t* labels);
  float* Value(int tensor) const;
  float* Grad(int tensor) const;
  float* Aux(int node, int k) const;
  float* Param(int node, int k) const;
  float* PGrad(int node, int k);
  // Where node i's backward writes the gradient of its input j (nullptr: not needed).
  float* GradDest(int i, int j) const;
  // After the kernel wrote GradDest(i, j): accumulates a scratch into the real gradient.
  void FinishGrad(int i, int j);
  void CopyOrAdd(int i, int j, const float* src, size_t n);

  std::string ir_json_;
  std::shared_ptr<ParameterStore> store_;
  PlanOptions options_;
  ir::Graph graph_;
  ir::Shapes shapes_;
  int n_inputs_ = 0;
  size_t steps_ = 0;
  // Per node / tensor / edge.
  std::vector<char> active_train_, active_eval_, active_predict_;
  std::vector<char> dead_;                 // merged into an earlier node: never runs
  int merged_ = 0;
  std::vector<char> backward_;             // node runs a backward step
  std::vector<char> has_grad_;             // tensor has a gradient buffer
  std::vector<std::vector<char>> edge_contrib_, edge_first_;
  std::vector<std::vector<int>> edge_scratch_;  // buffer index or -1
  std::vector<int> value_buf_, grad_buf_;
  std::vector<std::array<int, 4>> aux_buf_;
  std::vector<int> value_root_;           // the tensor whose buffer holds this one's value (aliases)
  std::vector<int> grad_root_;            // the tensor whose gradient buffer holds this one's gradient
  std::vector<FusedChain> fused_;
  int fused_chains_ = 0, aliased_ = 0, grad_aliased_ = 0;
  // Profiling (options.profile): per node, plus one entry for the optimizer at index n.
  std::vector<NodeProfile> profile_;
  std::string KindOf(int i) const;
  std::vector<char> drop_identity_;        // DropPath/Dropout ran as identity this step
  std::vector<float> drop_keep_;           // DropPath keep probability this step
  std::vector<std::vector<int>> node_param_slot_;
  std::vector<ParamSlot> slots_;
  std::vector<std::vector<float>> zero_bias_, zero_bias_grad_;  // Gemm without a bias
  // Memory.
  std::vector<size_t> buf_offset_;
  std::unique_ptr<float[]> arena_;  // uninitialized: every buffer is written before it is read
  size_t arena_bytes_ = 0, naive_bytes_ = 0;
  const float* images_ = nullptr;
};

}  // namespace nasnet::plan
