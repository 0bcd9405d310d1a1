// The engine's public C++ API: a ParameterStore of named tensors, and Plans compiled from the graph
// IR (lib/ir/types.ts documents the IR) that run whole training steps. Plain C++, no Node.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"

namespace nasnet {

namespace plan {
class DeviceCopy;
}

// How a parameter is initialized when the store does not hold it yet (IrInit in TypeScript).
struct ParamInit {
  enum class Kind { kZeros, kOnes, kHeNormal, kUniform } kind = Kind::kZeros;
  double fan_in = 0;  // he_normal: std = sqrt(2 / fan_in)
  double limit = 0;   // uniform: U(-limit, limit)
};

// A process-wide counter: each call returns a new value (StoredTensor::version).
uint64_t NextTensorVersion();

// A named float32 tensor. Optimizer state lives in the store too, under "<name>#momentum",
// "<name>#ms", "<name>#mom" (so checkpoints hold it and resumed training continues exactly), and so
// do parameter averages, "<name>#ema" (PlanOptions.ema_decay).
//
// Residency: `data` is the host copy. While plans on a device backend (CUDA) bind the tensor, it
// also has a device copy (plan/residency.h), and whichever copy a step wrote last is the newest:
// `host_stale` says the device copy is newer. ParameterStore::Get/Set, CPU plans and checkpoints
// read and write through the store, which syncs first; the device copy is written back and freed
// when the last device plan binding it is disposed.
struct StoredTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
  bool trainable = true;
  bool weight_decay = true;
  std::weak_ptr<plan::DeviceCopy> device;
  bool host_stale = false;
  // Changes (to a value no tensor had before) whenever `data` may have changed: created, set, a CPU
  // step wrote it (plan::MarkHostWritten), or read back from a device copy. Inference plans key the
  // weights they derive from parameters on it (Backend::FusedConvBnPrepare).
  uint64_t version = NextTensorVersion();
};

// Named tensors shared by every plan bound to the store: two plans naming the same parameter share
// it. Thread-safe for lookups and creation; a plan's step holds no lock while it computes, so
// Get/Set/Remove must not run while a step of a plan on the store runs (the binding serializes them).
class ParameterStore {
 public:
  // Creates `name` with `shape` initialized from `init` (deterministic in seed and name) if absent;
  // if present, checks the shape and says which name and shapes disagree.
  Status Ensure(const std::string& name, const std::vector<int64_t>& shape, const ParamInit& init, bool trainable,
                bool weight_decay, uint64_t seed);
  // The host copy, synced from the device copy first (nullptr when absent or the sync failed).
  StoredTensor* Find(const std::string& name);
  // The tensor itself, kept alive by the caller: a plan binds its parameters this way, so Remove()
  // while a plan exists cannot leave it dangling (the plan keeps the removed tensor; a later Ensure
  // of that name creates a new one that only later plans see).
  std::shared_ptr<StoredTensor> Share(const std::string& name);
  std::vector<std::string> Names() const;
  Status Get(const std::string& name, std::vector<float>* out, std::vector<int64_t>* shape) const;
  // Sets (or creates, when shape is given and the name is absent) a tensor; the length must match.
  Status Set(const std::string& name, const float* data, size_t n, const std::vector<int64_t>* shape);
  Status Remove(const std::string& name);

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<StoredTensor>> tensors_;
};

enum class OptimizerKind { kSgd, kRmsprop };

// Where a plan runs: kAuto takes CUDA when a device is usable, else the CPU (Plan::notice() says why).
enum class BackendKind { kAuto, kCpu, kCuda };

struct PlanOptions {
  int batch = 0;            // the N of every 'N' dimension
  bool training = true;     // train graph (batch statistics, DropPath, loss) or inference
  uint64_t seed = 0;        // parameter init and the base of DropPath/Dropout randomness
  OptimizerKind optimizer = OptimizerKind::kSgd;
  // Plan-level fusion: [ReLU →] [depthwise →] pointwise → BatchNormalization chains run as one
  // kernel, Identity and Flatten share their input's memory, DropPath and Dropout run in place where
  // their input has no other use. Off: every node runs its own kernel
  // (the reference the fused plans are tested against).
  bool fuse = true;
  // Time every node's forward and backward (and the optimizer update): Plan::Profile().
  bool profile = false;
  BackendKind backend = BackendKind::kCpu;
  int device = 0;  // CUDA device index
  // Capture each kind of step (train, evaluate, predict) once and replay it (CUDA graphs), after one
  // eager run. Off: every step launches its kernels one by one (the reference graphs are tested
  // against). Ignored by the CPU backend and when profiling.
  bool graphs = true;
  // Training plans: parameter exponential moving average (0 = off). Every parameter of the graph
  // (weights and BN running statistics) gets a shadow "<name>#ema", created equal to the parameter
  // (a shadow the store already holds, e.g. from a checkpoint, is kept) and updated at the end of
  // each TrainStep, after the optimizer, as TensorFlow's ExponentialMovingAverage(decay,
  // num_updates = step): d = min(decay, (1 + step) / (10 + step)), shadow = d * shadow + (1 - d) * value.
  float ema_decay = 0.0f;
  // Inference plans: read every parameter from its "<name>#ema" shadow instead of "<name>".
  bool use_ema = false;
  // Inference plans on a backend that runs several steps at once (the CPU with 2+ threads):
  // image-parallel lanes. Each thread takes a few whole images at a time through the whole network
  // with serial kernels (plans of the same graph for the smaller batch, sharing the parameters),
  // instead of every node splitting the whole batch over the threads; a batch of 1 runs its
  // independent nodes at once, each on one thread (node_workers()). The same floats per image, since
  // no kernel mixes images at inference. Off: one plan runs the whole batch, each node over all threads.
  bool image_parallel = true;
};

// Time spent in one node (or "(optimizer)") since compile or the last ResetProfile(): a plan compiled
// with PlanOptions.profile.
struct NodeProfile {
  std::string id;    // the node's id; a fused chain is reported under its BatchNormalization node
  std::string kind;  // what ran: "Conv depthwise 5x5 s2", "FusedConvBn relu+dw3x3+pw", "MaxPool 3x3 s2", ...
  double forward_ms = 0, backward_ms = 0;
  int64_t forward_calls = 0, backward_calls = 0;
};

// Hyper-parameters of one training step (schedules live in TypeScript).
struct StepHyper {
  float lr = 0.1f;
  float momentum = 0.9f;       // SGD momentum, or RMSProp momentum
  bool nesterov = false;
  float weight_decay = 0.0f;   // applied to parameters whose weight_decay flag is set
  float clip_norm = 0.0f;      // clip by global gradient norm; 0 = off
  float rms_decay = 0.9f;      // RMSProp
  float rms_eps = 1.0f;        // RMSProp epsilon (TF-slim NASNet uses 1.0)
  float drop_path_rate = 0.0f; // per-step DropPath base rate; a node drops with rate * layer_ratio
  uint64_t step = 0;           // step counter: the randomness stream of this step
};

struct StepResult {
  double loss = 0;
  int correct = 0;
  double grad_norm = 0;        // global gradient norm before clipping
};

struct EvalResult {
  double loss = 0;
  int correct = 0;
};

// A graph compiled for one batch size and mode. Not thread-safe: one step at a time per plan (Stage
// excepted: see there).
class Plan {
 public:
  // Parses and validates the IR JSON, infers shapes, plans memory, creates missing parameters in
  // `store`. Errors name the node id and field: "node 'c3/b1/left/dw1': Conv group 64 does not divide
  // input channels 96".
  static Status Compile(const std::string& ir_json, std::shared_ptr<ParameterStore> store, const PlanOptions& options,
                        std::unique_ptr<Plan>* out);
  virtual ~Plan() = default;

  // images: batch * C * H * W floats; labels: batch int32 in [0, classes). Forward, backward, update.
  // The arrays are read while the step runs (a CPU plan reads them in place).
  virtual Status TrainStep(const float* images, const int32_t* labels, const StepHyper& hyper, StepResult* out) = 0;
  // Loss and correct count without updating anything (inference mode semantics: running BN stats).
  virtual Status Evaluate(const float* images, const int32_t* labels, EvalResult* out) = 0;
  // Logits of outputs[0]: batch * classes floats.
  virtual Status Predict(const float* images, float* logits) = 0;

  // ---- batches handed over ahead of their step (double-buffered inputs) ----
  // Copies `images` (batch * C * H * W floats) and `labels` (batch int32 in [0, classes), or nullptr
  // for a batch only Predict will run) into a free input slot of the plan (pinned host memory on a
  // device) and, on a device, starts their upload on the backend's copy stream, so the copy overlaps
  // a step running now on another thread; the caller's arrays are not read after Stage returns.
  // `out` names the batch for TrainStep / Evaluate / Predict, which wait for its upload on the device
  // (not on the host) and run on it. The plan has kInputSlots (2) slots: a slot is held from Stage
  // until the step that ran its batch returns; Stage fails when none is free, and a step fails for a
  // batch that is not staged (run already, or of another plan). A CPU plan reads the slot directly.
  // Thread safety: Stage may run while one step runs on another thread (one Stage at a time).
  // Without Stage, a step given arrays stages them itself (on a device: the copy does not overlap).
  struct StagedBatch {
    uint64_t id = 0;
  };
  virtual Status Stage(const float* images, const int32_t* labels, StagedBatch* out) = 0;
  virtual Status TrainStep(const StagedBatch& batch, const StepHyper& hyper, StepResult* out) = 0;
  virtual Status Evaluate(const StagedBatch& batch, EvalResult* out) = 0;
  virtual Status Predict(const StagedBatch& batch, float* logits) = 0;

  // Where this plan's backend steps on a thread of its own (the CPU's step thread): queues `step`
  // there and returns true at once, so a caller that must not block (the N-API layer) hands a step
  // over without a thread of its own waiting for it; `step` calls TrainStep / Evaluate / Predict,
  // which run in place, and done(its status, a throw turned into one) follows it there. False: call
  // them on a thread that may wait (a device plan); neither function runs. `done` must not throw;
  // neither may wait for a thread that itself waits for a step (a lock such a thread holds).
  virtual bool PostStep(std::function<Status()> step, std::function<void(Status)> done) = 0;

  // Shapes the caller must supply and receive.
  virtual std::vector<int64_t> input_shape() const = 0;   // [batch, C, H, W]
  virtual int classes() const = 0;
  virtual size_t activation_bytes() const = 0;            // the memory plan's arena size (lanes: all of theirs)
  virtual size_t naive_activation_bytes() const = 0;      // without reuse, for the report
  virtual std::vector<std::string> param_names() const = 0;
  // "cpu" or "cuda", the device in words, and why kAuto did not take CUDA (empty otherwise).
  virtual std::string backend_name() const = 0;
  virtual std::string device_name() const = 0;
  virtual std::string notice() const = 0;
  // Whether steps are replayed as captured graphs, and why not when they are not.
  virtual std::string graph_status() const = 0;
  // Writes every parameter this plan's steps changed back to the store's host copies (a device
  // plan; a no-op on the CPU). Dispose does it too; this reports failures.
  virtual Status SyncToStore() = 0;
  // What the compiler simplified: repeated parameter-free nodes merged, chains fused into one kernel,
  // Identity/Flatten/DropPath/Dropout outputs sharing their input's buffer.
  virtual int merged_nodes() const = 0;
  virtual int fused_chains() const = 0;
  // DropPath nodes run as the epilogue of the Add that reads them.
  virtual int fused_drop_paths() const = 0;
  // Pad → Slice → strided 1×1 Conv run as the Conv alone (inference plans).
  virtual int fused_shifts() const = 0;
  // Strided 1×1 Convs that apply the ReLU of a Relu absorbed into its readers (inference plans).
  virtual int relu_strided_convs() const = 0;
  // Adds that run a fused chain with their other input as its residual (inference plans).
  virtual int fused_adds() const = 0;
  // Concat inputs written in place by the fused chains producing them (inference plans).
  virtual int concat_in_place() const = 0;
  virtual int aliased_tensors() const = 0;
  // Gradients sharing the buffer of the gradient they pass through (Add, Identity, Flatten backward).
  virtual int aliased_gradients() const = 0;
  // Image-parallel inference (PlanOptions.image_parallel): how many lanes run at once, and the most
  // images per run of a lane; 0 and 0 when the plan runs its batch as one.
  virtual int image_lanes() const = 0;
  virtual int lane_batch() const = 0;
  // Runs a batch is split into (images per run from lane_batch() down to 1 towards the end).
  virtual int lane_runs() const = 0;
  // A batch of 1 on the CPU with 2+ threads: the threads that run its independent nodes at once
  // (the branches of a cell), each node on one thread; 0 otherwise.
  virtual int node_workers() const = 0;
  // Per-node times of a plan compiled with PlanOptions.profile (nodes that ran, in schedule order),
  // else an Invalid status. Not while a step runs.
  virtual Status Profile(std::vector<NodeProfile>* out) const = 0;
  virtual void ResetProfile() = 0;
};

}  // namespace nasnet
