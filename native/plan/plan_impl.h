// The compiled plan behind Plan (engine.h): IR → shapes → schedule → memory plan → executor, all
// backend-neutral; every allocation, copy and kernel goes through the plan's Backend (backend.h).
//
// Compilation passes (plan.cc, in order): MergeCommonSubexpressions, FusePadSliceConvs, FuseChains,
// FuseDropPathAdds, FuseChainAdds, PlaceConcatInputs, SelectNodes
// (which nodes each mode runs, which tensors need gradients), AssignGradientEdges (who writes each
// gradient first), AliasValues, AliasGradients, PlanBuffers (live intervals → arena offsets),
// BindParameters (store tensors, device copies, optimizer state), AllocateMemory.
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
// takes the chain's input and the chain's parameters and the Convs die (Backend::FusedConvBn*, on
// backends that support Fusion::kConvBnChain). The intermediate tensors must have no other reader.
// A Relu before the chains is absorbed (applied on the fly, never stored) when fused chains are all
// that read it; otherwise it runs anyway and the chains read its output, so that its input is not
// kept alive as well. In training the fused node keeps t (depthwise output) and z (pointwise output)
// as aux buffers for backward; r = relu(x) is never stored, nor are the gradients of r, t, z (a
// backend that needs room for them gets a scratch buffer live during that backward only). An Add
// whose inputs come from DropPath nodes that only it reads runs them as its epilogue
// (Fusion::kDropPathAdd): it reads the DropPath inputs, draws the masks and sums the scaled terms in
// one pass; in backward each such input's gradient is DropPath's backward of the Add's gradient. In
// inference plans (training = false) a Pad → Slice (steps 1) read only by a strided 1×1 Conv (no
// pads, one group) — NASNet's shifted factorized-reduction path — becomes that Conv reading the Pad's
// input with the shift as its pads, negative ones included (Fusion::kPadSliceConv): the padded and
// the sliced copies are never made; and an Add of two tensors where one is a fused chain's output
// that only the Add reads runs that chain itself, adding the other tensor as the chain's GEMM stores
// its tiles (Fusion::kChainAdd): the chain's output is never stored, nor read again; and a fused
// chain's output that only a Concat reads is a view into the Concat's output (view_root_,
// view_offset_: its channel slice, images a Concat image apart), which the chain writes directly and
// the Concat skips (Fusion::kConcatInPlace; the Concat's buffer then lives from the first such
// producer on). Identity and
// Flatten outputs alias their input's buffer (the buffer lives as long as either is read), and so
// do DropPath and Dropout (in place) where their input has no other use. In backward, an Add,
// Identity or Flatten passes its output gradient's buffer on to one input it writes first.
//
// Image-parallel inference (lanes.cc): an inference plan whose backend runs several steps at once
// (Backend::ConcurrentSteps, the CPU's threads) splits its batch into lane_runs() runs of up to
// lane_batch() (4) images, smaller towards the end (a guided schedule), and each of image_lanes()
// lanes, one per thread, takes the next run and executes it on its own plan of the same graph
// compiled for that many images, bound to the same parameters, with serial kernels (a lane's plans
// share one arena). The parent plan keeps its input slots and syncs the parameters once per step;
// it allocates no arena. Threads no longer meet at a barrier after every node, and each run's
// activations (a few MiB) stay in cache across nodes. No kernel mixes images at inference, so each
// image's logits are the floats of the batched plan; the evaluate loss is the size-weighted mean of
// the runs' losses. A batch of 1 is one run on one lane whose plan is node-parallel
// (node_parallel.cc): its independent nodes (a cell's branches) run at once on two threads, each
// node on one thread, taking a node whose inputs are ready, the critical path first (NodeGraph::rank;
// NASNet-A 2@768: 3.9 against 5.2 ms splitting every node over both threads, before ranks). Its
// buffers share memory only between tensors that every order of the nodes keeps apart
// (NodeParallelLiveTogether; up to kNodeParallelMaxBytes, past it the image's nodes run in order on
// one thread), so any order gives the same floats.
//
// Gradients at fan-out: a tensor read by several nodes gets its gradient written (=) by the first
// consumer in backward order and accumulated (+=) by the others, through a scratch buffer when the
// consumer's kernel writes (=) its dx.
#pragma once
#include <array>
#include <functional>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "plan/backend.h"
#include "plan/engine.h"
#include "plan/ir.h"
#include "plan/memory.h"

namespace nasnet::plan {

class DeviceCopy;

// Total bytes a plan may hold (arena, parameter gradients): larger graphs fail at compile time.
constexpr uint64_t kMaxPlanBytes = uint64_t{64} << 30;
// Activations a node-parallel plan (one image) may hold; past it, it runs in order.
constexpr size_t kNodeParallelMaxBytes = size_t{512} << 20;

// Resolves PlanOptions::backend (kAuto: CUDA when usable, else the CPU with `notice` saying why).
Status SelectBackend(const PlanOptions& options, std::shared_ptr<Backend>* out, std::string* notice);

// A run of image-parallel inference: images [first, first + images) of the batch.
struct LaneRun {
  int first = 0, images = 0;
};

class CompiledPlan : public Plan {
 public:
  // `input_grad` also computes d loss / d images (tests: InputGrad()).
  static Status Create(const std::string& ir_json, std::shared_ptr<ParameterStore> store, const PlanOptions& options,
                       bool input_grad, std::unique_ptr<CompiledPlan>* out);
  // What a lane's plan is compiled as: a lane (its parent syncs the parameters), and with node
  // workers > 1 (a batch of 1) its independent nodes run at once on that many threads.
  struct LaneSetup {
    int node_workers = 0;
  };
  ~CompiledPlan() override;

  Status TrainStep(const float* images, const int32_t* labels, const StepHyper& hyper, StepResult* out) override;
  Status Evaluate(const float* images, const int32_t* labels, EvalResult* out) override;
  Status Predict(const float* images, float* logits) override;
  Status Stage(const float* images, const int32_t* labels, StagedBatch* out) override;
  Status TrainStep(const StagedBatch& batch, const StepHyper& hyper, StepResult* out) override;
  Status Evaluate(const StagedBatch& batch, EvalResult* out) override;
  Status Predict(const StagedBatch& batch, float* logits) override;
  std::vector<int64_t> input_shape() const override { return shapes_.tensor[shapes_.images]; }
  int classes() const override { return shapes_.classes; }
  size_t activation_bytes() const override { return lanes_.empty() ? arena_bytes_ : lane_bytes_; }
  size_t naive_activation_bytes() const override { return naive_bytes_; }
  std::vector<std::string> param_names() const override;
  std::string backend_name() const override { return backend_->name(); }
  std::string device_name() const override { return backend_->device(); }
  std::string notice() const override { return notice_; }
  std::string graph_status() const override;
  Status SyncToStore() override;
  bool PostStep(std::function<Status()> step, std::function<void(Status)> done) override {
    return backend_->PostStep(std::move(step), std::move(done));
  }
  Status Profile(std::vector<NodeProfile>* out) const override;
  void ResetProfile() override;

  // Forward and backward with training semantics, no update: loss, correct, grad_norm (unclipped).
  // Parameter gradients are then ParamGrad(), d loss / d images InputGrad().
  Status ForwardBackward(const float* images, const int32_t* labels, const StepHyper& hyper, StepResult* out);
  // A copy of a parameter's gradient after ForwardBackward (empty when it has none).
  std::vector<float> ParamGrad(const std::string& name) const;
  // A copy of d loss / d images (empty unless compiled with input_grad).
  std::vector<float> InputGrad() const;
  int steps() const { return static_cast<int>(steps_); }
  // Nodes merged into an identical earlier node (see "Common subexpressions" above).
  int merged_nodes() const override { return merged_; }
  // Chains fused into one kernel, and tensors sharing their input's buffer (see "Fusion" above).
  int fused_chains() const override { return fused_chains_; }
  int fused_drop_paths() const override { return fused_drop_paths_; }
  // Pad → Slice → strided 1×1 Conv runs as the Conv alone (see "Fusion" above).
  int fused_shifts() const override { return fused_shifts_; }
  int relu_strided_convs() const override { return relu_strided_convs_; }
  // Adds that run a fused chain with the other input as its residual (see "Fusion" above).
  int fused_adds() const override { return fused_adds_; }
  // Concat inputs written in place by their producers (see "Fusion" above).
  int concat_in_place() const override { return concat_in_place_; }
  int aliased_tensors() const override { return aliased_; }
  // Gradients that share the buffer of the gradient they pass through (Add, Identity, Flatten).
  int aliased_gradients() const override { return grad_aliased_; }
  int image_lanes() const override { return static_cast<int>(lanes_.size()); }
  int lane_batch() const override { return lane_batch_; }
  int lane_runs() const override { return static_cast<int>(lane_runs_.size()); }
  int node_workers() const override {
    return lanes_.size() == 1 && lanes_[0].plans.size() == 1 ? lanes_[0].plans[0]->node_workers_ : 0;
  }

 private:
  // A parameter of the graph bound to its store tensor; on a device backend through its device copy.
  struct ParamSlot {
    const ir::Param* decl = nullptr;
    std::shared_ptr<StoredTensor> value;
    std::shared_ptr<StoredTensor> state1, state2;  // momentum, or RMSProp ms and mom
    std::shared_ptr<StoredTensor> ema;             // "<name>#ema" (PlanOptions.ema_decay)
    std::shared_ptr<DeviceCopy> value_dev, state1_dev, state2_dev, ema_dev;
    float* w = nullptr;                          // backend pointers
    float* s1 = nullptr;
    float* s2 = nullptr;
    float* e = nullptr;
    size_t n = 0;
    int64_t grad_offset = -1;                    // in grads_ (floats), or -1: no gradient
    int norm_index = -1;                         // in the gradient-norm partials, or -1
  };
  enum Mode { kTrain = 0, kEval = 1, kPredict = 2 };
  // A step's inputs: the caller's arrays, or a staged batch.
  struct StepInput {
    const float* images = nullptr;
    const int32_t* labels = nullptr;
    const StagedBatch* staged = nullptr;
  };
  // One of the plan's input slots (engine.h Plan::Stage): the batch's host copy (pinned on a device)
  // and, on a device, its device copy, which the step reads and the copy stream writes; each slot has
  // its own captured graph per kind of step (RunStep's variant). The slot is written only while it
  // is kStaged (by Stage, before the batch has an id) and read only while kRunning (by the step).
  struct InputSlot {
    enum State { kFree, kStaged, kRunning };
    void* host = nullptr;                 // images, then labels
    float* images_dev = nullptr;          // device copies (nullptr on the CPU)
    int32_t* labels_dev = nullptr;
    std::unique_ptr<Fence> uploaded;      // copy stream: after the upload from `host`
    std::unique_ptr<Fence> consumed;      // step stream: after the last step that read the slot
    State state = kFree;
    uint64_t id = 0;                      // the staged batch (0: still being staged)
    bool has_labels = false;
  };
  // A chain fused into its BatchNormalization node (relu, dw: node indices or -1; pw: -1 = not fused).
  struct FusedChain {
    int relu = -1, dw = -1, pw = -1;
    int bn = -1;  // the BatchNormalization node (its attributes); the node running the chain is bn or an Add
    FusedConvBnShape shape{};
  };
  // Inference weights the backend derived from a fused chain's parameters (FusedConvBnPrepare), and
  // the versions of those parameters [gamma, beta, mean, var, w_pw] they came from.
  struct PreparedChain {
    std::vector<float> floats;
    std::array<uint64_t, 5> versions{};
    bool ready = false;
  };
  // Extra buffers of a node, by role.
  enum Aux {
    kAuxMean = 0, kAuxInvstd = 1, kAuxZ = 2, kAuxT = 3, kAuxForwardScratch = 4, kAuxBackwardScratch = 5,
    kAuxMask = 0
  };

  // One thread's plans for image-parallel inference: one per run size in lane_runs_, all on one
  // arena (the largest of theirs: the lane runs one at a time).
  struct Lane {
    std::vector<std::unique_ptr<CompiledPlan>> plans;
    float* arena = nullptr;
    CompiledPlan* ForSize(int images) const;
  };

  static Status Compile(const std::string& ir_json, std::shared_ptr<ParameterStore> store, const PlanOptions& options,
                        bool input_grad, const LaneSetup* lane, std::unique_ptr<CompiledPlan>* out);
  // Create() for a lane's plan (flags set before Build).
  static Status CreateLane(const std::string& ir_json, std::shared_ptr<ParameterStore> store,
                           const PlanOptions& options, const LaneSetup& setup, std::unique_ptr<CompiledPlan>* out);
  // The inference forward of a node-parallel plan: workers take nodes whose inputs are ready.
  Status ForwardConcurrent(Mode mode);
  // Per inference mode: the nodes that run, how many producers each waits for, its consumers, and its
  // rank (its cost and the costliest chain after it: what node-parallel workers take first).
  struct NodeGraph {
    std::vector<int> nodes, waits;
    std::vector<std::vector<int>> consumers;
    std::vector<double> rank;
  };
  Status BuildNodeGraphs();
  double NodeCost(int i) const;
  // Whether buffer requests a and b may be live at once in some order of the node-parallel workers:
  // unless every node using one is an ancestor of every node writing the other.
  std::function<bool(size_t, size_t)> NodeParallelLiveTogether() const;

  // ---- image-parallel inference (lanes.cc) ----
  // The lanes an inference plan of this batch on this backend splits into (0: none).
  static int LaneCount(const PlanOptions& options, const Backend& backend, bool input_grad);
  // Compiles every lane's plans (after Build: the parameters are bound).
  Status CreateLanes(const std::string& ir_json, int lanes);
  // An inference step over the lanes, on the inputs BindInputs bound: logits (Predict) or `out` (Evaluate).
  Status RunLanes(Mode mode, float* logits, EvalResult* out);

  // ---- compilation passes (plan.cc) ----
  Status Build(bool input_grad);
  void MergeCommonSubexpressions();
  void FusePadSliceConvs();
  void FuseChains();
  void FuseDropPathAdds();
  void FuseChainAdds();
  void PlaceConcatInputs();
  Status SelectNodes(bool input_grad);
  void AssignGradientEdges();
  void AliasValues();
  void AliasGradients();
  Status PlanBuffers(bool input_grad);
  Status BindParameters();
  Status AllocateMemory();
  // Readers of each tensor among the nodes that run; the graph's results count as readers.
  std::vector<int> CountReaders() const;
  bool IsFused(int i) const { return fused_[i].pw >= 0; }
  // The live node of kind `op` that produces tensor t, or -1 (a graph input, a dead node, another op).
  int ProducerOf(int t, ir::Op op) const;
  // An Add that runs the DropPath nodes of its inputs as its epilogue (drop_in_[i][j] >= 0).
  bool IsDropPathAdd(int i) const { return !drop_in_[i].empty(); }
  std::string KindOf(int i) const;

  // ---- execution (executor.cc) ----
  Status CheckLabels(const int32_t* labels) const;
  // This step's inputs: a staged batch's slot (held until ReleaseSlot), on a device the caller's
  // arrays staged into a free slot, on the CPU the caller's arrays in place (*slot = -1).
  Status BindInputs(Mode mode, const StepInput& in, int* slot);
  Status TakeSlot(Mode mode, const StagedBatch& batch, int* slot);
  void ReleaseSlot(int slot);
  // Everything before a step: parameters current on this backend, step values staged.
  Status Prepare(Mode mode, const StepHyper& hyper);
  // Runs `step` after uploading the step block, waiting for the inputs' upload first; captured (and
  // replayed, one graph per input slot) when `capture`.
  Status RunMode(Mode mode, bool capture, const std::function<Status()>& step);
  Status Train(const StepInput& in, const StepHyper& hyper, bool update, StepResult* out);
  Status EvaluateInput(const StepInput& in, EvalResult* out);
  Status PredictInput(const StepInput& in, float* logits);
  Status TrainForwardBackward();
  Status Forward(Mode mode);
  Status Backward();
  Status Update();
  Status ForwardNode(int i, bool train);
  // Before an inference step (Prepare): prepares (again) the weights of every fused chain the mode
  // runs whose parameters changed since (their StoredTensor versions), on a plan with lanes for the
  // lanes too; a lane's plan prepares nothing (its parent did).
  Status PrepareChains(Mode mode);
  // Inference: the fused chain run by node i (its BN, or an Add with `residual`), from its prepared
  // weights when it has them.
  Status ForwardChainEval(int i, const float* x, const float* residual, float* y);
  Status BackwardNode(int i);
  // After a step wrote parameters: the copies other than this backend's are stale.
  void MarkParamsWritten();
  Status Timed(NodeProfile* p, bool backward, const std::function<Status()>& run);
  // A failure of node i's kernels, named: "node 'cell0/...' (Conv depthwise 5x5 s2, forward on cuda): ...".
  Status InNode(int i, bool backward, Status st) const;
  float* Value(int tensor) const;
  // Floats from one image of a tensor to the next when it is a view into a Concat's output (see
  // "Fusion"), else 0 (dense).
  size_t ImageStride(int tensor) const;
  float* Grad(int tensor) const;
  float* AuxBuf(int node, int k) const;
  float* Param(int node, int k) const;
  float* PGrad(int node, int k) const;
  // Where node i's backward writes the gradient of its input j (nullptr: not needed).
  float* GradDest(int i, int j) const;
  // After the kernel wrote GradDest(i, j): accumulates a scratch into the real gradient.
  Status FinishGrad(int i, int j);
  Status CopyOrAdd(int i, int j, const float* src, size_t n);
  const int32_t* labels() const { return labels_; }

  std::shared_ptr<ParameterStore> store_;
  PlanOptions options_;
  std::shared_ptr<Backend> backend_;
  std::string notice_;
  bool input_grad_ = false;
  ir::Graph graph_;
  ir::Shapes shapes_;
  int n_inputs_ = 0;
  size_t steps_ = 0;
  // Per node / tensor / edge.
  std::vector<char> active_[3];            // by Mode
  std::vector<char> dead_;                 // merged or fused into another node, or run by no mode
  int merged_ = 0;
  std::vector<char> backward_;             // node runs a backward step
  std::vector<char> needs_grad_;           // tensor depends on a trainable parameter (or the images)
  std::vector<char> has_grad_;             // tensor has a gradient buffer
  std::vector<int> grad_start_;            // step that first writes a tensor's gradient
  std::vector<std::vector<char>> edge_contrib_, edge_first_;
  std::vector<std::vector<int>> edge_scratch_;  // buffer index or -1
  std::vector<int> value_buf_, grad_buf_;
  std::vector<std::array<int, 6>> aux_buf_;
  std::vector<int> value_root_;           // the tensor whose buffer holds this one's value (aliases)
  std::vector<int> grad_root_;            // the tensor whose gradient buffer holds this one's gradient
  std::vector<FusedChain> fused_;
  // By node (PrepareChains); a lane's plan shares its parent's (the same graph, the same nodes).
  std::shared_ptr<std::vector<PreparedChain>> prepared_ = std::make_shared<std::vector<PreparedChain>>();
  // Per Add node and input: the DropPath node it absorbed (-1: a plain input; empty: none), and the
  // buffer of that DropPath's mask.
  std::vector<std::vector<int>> drop_in_, drop_mask_buf_;
  std::vector<int> absorbed_into_;         // per DropPath node: the Add that runs it, or -1
  // Views into a Concat's output (PlaceConcatInputs): per tensor, the Concat's output tensor (-1:
  // none) and the offset of the tensor's image 0 in it (floats).
  std::vector<int> view_root_;
  std::vector<size_t> view_offset_;
  int fused_chains_ = 0, fused_drop_paths_ = 0, fused_shifts_ = 0, fused_adds_ = 0, relu_strided_convs_ = 0, concat_in_place_ = 0, aliased_ = 0, grad_aliased_ = 0;
  std::vector<int> random_slot_;           // per node: index of its RandomSlot, or -1
  int random_count_ = 0;
  std::vector<std::vector<int>> node_param_slot_;
  std::vector<ParamSlot> slots_;
  int norm_count_ = 0;                     // slots in the gradient norm
  // Profiling (options.profile): per node, plus one entry for the optimizer at index n.
  std::vector<NodeProfile> profile_;
  // Memory: the arena (activations), gradients, the step block ([StepValues][RandomSlot...]) and
  // its host twin, the norm partials, and the input slots.
  std::vector<BufferRequest> requests_;
  std::vector<size_t> buf_offset_;
  size_t arena_bytes_ = 0, naive_bytes_ = 0, grad_floats_ = 0, step_block_bytes_ = 0;
  float* arena_ = nullptr;
  float* grads_ = nullptr;
  void* step_block_ = nullptr;
  void* step_block_host_ = nullptr;
  double* partials_ = nullptr;
  InputSlot inputs_[kInputSlots];
  std::mutex inputs_mu_;                   // slot states (Stage runs alongside a step)
  int last_slot_ = kInputSlots - 1;        // the slot the latest step read
  int step_slot_ = 0;                      // the running step's slot (its RunStep variant)
  const float* images_ = nullptr;          // this step's images and labels (backend memory)
  const int32_t* labels_ = nullptr;
  std::unique_ptr<CapturedStep> captured_[3];
  // Image-parallel inference: the lanes (empty: this plan runs its batch), images per run, the
  // lanes' arenas together; and, on a lane's plan, that its parent syncs the parameters.
  std::vector<Lane> lanes_;
  std::vector<LaneRun> lane_runs_;
  int lane_batch_ = 0;
  size_t lane_bytes_ = 0;
  bool is_lane_ = false;  // also: its arena is its lane's, not its own
  // Node-parallel inference (a lane of one image): threads running independent nodes, every buffer
  // its own (no reuse: nodes run out of schedule order), and the dependency graphs by mode.
  int node_workers_ = 0;
  NodeGraph node_graph_[3];
  bool is_parent_ = false;  // lanes run this plan's steps (set before Build, which then allocates no arena)
  StepValues* values() const { return static_cast<StepValues*>(step_block_); }
  StepValues* values_host() const { return static_cast<StepValues*>(step_block_host_); }
  RandomSlot* random(int slot) const { return reinterpret_cast<RandomSlot*>(values() + 1) + slot; }
  RandomSlot* random_host(int slot) const { return reinterpret_cast<RandomSlot*>(values_host() + 1) + slot; }
};

}  // namespace nasnet::plan
