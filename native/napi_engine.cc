// The engine's binding: ParameterStore and Plan wrapped as JS objects. A CPU plan's step is handed
// to the step thread directly and comes back through a StepChannel (napi_step_channel.h); a device
// plan's runs in an AsyncWorker. Neither touches a JS value or JS memory while it runs: a step's
// images and labels are copied into one of the plan's input slots (Plan::Stage) on the JS thread
// before the call returns, so the caller may change, transfer or detach its typed arrays while the
// step runs. stage() does the same for the next step while a step runs (it holds the other slot).
// Every argument is checked here too (TypeScript checks first), so a wrong call is a TypeError or
// RangeError naming the field, never a crash.
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "napi_exports.h"
#include "napi_step_channel.h"
#include "plan/engine.h"
#include "plan/ir.h"

namespace nasnet::napi {
namespace {

[[noreturn]] void ThrowType(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}
[[noreturn]] void ThrowRange(Napi::Env env, const std::string& message) {
  throw Napi::RangeError::New(env, message);
}

Napi::Error StatusError(Napi::Env env, const Status& st) {
  Napi::Error e = Napi::Error::New(env, st.message());
  e.Set("code", Napi::String::New(env, st.code() == StatusCode::kInvalidArgument   ? "ERR_NASNET_INVALID"
                                       : st.code() == StatusCode::kOutOfRange       ? "ERR_NASNET_RANGE"
                                       : st.code() == StatusCode::kResourceExhausted ? "ERR_NASNET_MEMORY"
                                                                                      : "ERR_NASNET_NATIVE"));
  return e;
}

// A call the plan's state does not allow (a batch staged twice, a staged batch run already): the
// TypeScript layer turns the code into a ValidationError.
Napi::Error MisuseError(Napi::Env env, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, "ERR_NASNET_MISUSE"));
  return e;
}

Napi::Float32Array ExpectFloat32(const Napi::Value& v, const char* field) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    ThrowType(v.Env(), std::string("Expected Float32Array for ") + field);
  return v.As<Napi::Float32Array>();
}

Napi::Int32Array ExpectInt32(const Napi::Value& v, const char* field) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    ThrowType(v.Env(), std::string("Expected Int32Array for ") + field);
  return v.As<Napi::Int32Array>();
}

double NumberField(const Napi::Object& o, const char* key, double dflt) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return dflt;
  if (!v.IsNumber()) ThrowType(o.Env(), std::string("Expected number for ") + key);
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) ThrowRange(o.Env(), std::string("Expected finite number for ") + key);
  return d;
}

bool BoolField(const Napi::Object& o, const char* key, bool dflt) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return dflt;
  if (!v.IsBoolean()) ThrowType(o.Env(), std::string("Expected boolean for ") + key);
  return v.As<Napi::Boolean>().Value();
}

// ---- ParameterStore -----------------------------------------------------------------------------

class StoreWrap : public Napi::ObjectWrap<StoreWrap> {
 public:
  static Napi::FunctionReference* constructor;
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeStore",
                       {InstanceMethod("names", &StoreWrap::Names), InstanceMethod("get", &StoreWrap::Get),
                        InstanceMethod("set", &StoreWrap::Set), InstanceMethod("remove", &StoreWrap::Remove)});
  }
  explicit StoreWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<StoreWrap>(info) {
    store_ = std::make_shared<ParameterStore>();
    step_mutex_ = std::make_shared<std::mutex>();
  }
  std::shared_ptr<ParameterStore> store() const { return store_; }
  // Plans on one store update shared tensors in place: their steps run one at a time.
  std::shared_ptr<std::mutex> step_mutex() const { return step_mutex_; }

 private:
  Napi::Value Names(const Napi::CallbackInfo& info) {
    std::vector<std::string> names = store_->Names();
    Napi::Array out = Napi::Array::New(info.Env(), names.size());
    for (size_t i = 0; i < names.size(); ++i) out.Set(i, names[i]);
    return out;
  }
  Napi::Value Get(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) ThrowType(env, "Expected string for name");
    std::vector<float> data;
    std::vector<int64_t> shape;
    Status st;
    {
      std::lock_guard<std::mutex> lock(*step_mutex_);  // waits for a running step of this store
      st = store_->Get(info[0].As<Napi::String>(), &data, &shape);
    }
    if (!st.ok()) return env.Undefined();
    Napi::Float32Array arr = Napi::Float32Array::New(env, data.size());
    std::copy(data.begin(), data.end(), arr.Data());
    Napi::Array dims = Napi::Array::New(env, shape.size());
    for (size_t i = 0; i < shape.size(); ++i) dims.Set(i, static_cast<double>(shape[i]));
    Napi::Object out = Napi::Object::New(env);
    out.Set("data", arr);
    out.Set("shape", dims);
    return out;
  }
  Napi::Value Set(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString()) ThrowType(env, "Expected string for name");
    Napi::Float32Array data = ExpectFloat32(info[1], "data");
    std::vector<int64_t> shape;
    bool has_shape = info.Length() > 2 && !info[2].IsUndefined();
    if (has_shape) {
      if (!info[2].IsArray()) ThrowType(env, "Expected array of positive integers for shape");
      Napi::Array a = info[2].As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i) {
        Napi::Value d = a.Get(i);
        if (!d.IsNumber() || d.As<Napi::Number>().DoubleValue() < 1)
          ThrowType(env, "Expected array of positive integers for shape");
        shape.push_back(d.As<Napi::Number>().Int64Value());
      }
    }
    std::lock_guard<std::mutex> lock(*step_mutex_);  // waits for a running step of this store
    Status st = store_->Set(info[0].As<Napi::String>(), data.Data(), data.ElementLength(), has_shape ? &shape : nullptr);
    if (!st.ok()) throw StatusError(env, st);
    return env.Undefined();
  }
  Napi::Value Remove(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) ThrowType(env, "Expected string for name");
    std::lock_guard<std::mutex> lock(*step_mutex_);
    Status st = store_->Remove(info[0].As<Napi::String>());
    return Napi::Boolean::New(env, st.ok());
  }

  std::shared_ptr<ParameterStore> store_;
  std::shared_ptr<std::mutex> step_mutex_;
};
Napi::FunctionReference* StoreWrap::constructor = nullptr;

// ---- Plan ---------------------------------------------------------------------------------------

struct PlanHolder {
  std::unique_ptr<Plan> plan;
  std::atomic<bool> busy{false};
  uint64_t staged = 0;  // the batch stage() handed over that no step has taken yet (JS thread only)
  std::shared_ptr<std::mutex> store_mutex;  // shared by every plan of the same store
  std::string ir_json;                      // the plan's IR, for describe()'s shapes
};

enum class StepKind { kTrain, kEvaluate, kPredict };

// One step of a plan: its arguments and results, and the promise it settles. RunWaiting() and
// RunIfFree() run it, on a libuv worker or on the thread the plan's backend steps on; Settle() hands
// the result to the promise on the JS thread.
class StepCall final : public StepReturn {
 public:
  // The inputs are already in one of the plan's input slots (`batch`): the step reads nothing else.
  StepCall(Napi::Env env, std::shared_ptr<PlanHolder> holder, StepKind kind, const StepHyper& hyper,
           Plan::StagedBatch batch)
      : deferred_(Napi::Promise::Deferred::New(env)), holder_(std::move(holder)), kind_(kind), hyper_(hyper),
        batch_(batch) {
    if (kind_ == StepKind::kPredict) {
      logits_.resize(static_cast<size_t>(holder_->plan->input_shape()[0]) * holder_->plan->classes());
    }
  }
  StepCall(StepCall&&) = default;
  Napi::Promise Promise() const { return deferred_.Promise(); }
  Plan* plan() const { return holder_->plan.get(); }

  // Waits for the store's lock (steps and compilations of the store's other plans run one at a time).
  void RunWaiting() {
    std::lock_guard<std::mutex> lock(*holder_->store_mutex);
    status_ = RunLocked();
  }
  // On the plan's step thread: runs the step unless another thread holds the store's lock. That
  // thread may be waiting for the step thread itself (a compilation or another plan's step run from
  // a libuv worker): waiting for it here would wait forever. Then nothing runs (ran_ stays false).
  Status RunIfFree() {
    std::unique_lock<std::mutex> lock(*holder_->store_mutex, std::try_to_lock);
    if (!lock.owns_lock()) return Status::Ok();
    ran_ = true;
    return RunLocked();
  }
  // The status RunIfFree's step ended with (a throw turned into one by the step thread).
  void Finished(const Status& st) { status_ = st; }

  // Back on the JS thread from the step thread: a step that did not run (the store was locked) runs
  // on a libuv worker now, which may wait for the lock.
  void Arrive(Napi::Env env) override;

  void Settle(Napi::Env env) {
    holder_->busy = false;
    try {
      if (!status_.ok()) {
        deferred_.Reject(StatusError(env, status_).Value());
      } else if (kind_ == StepKind::kPredict) {
        Napi::Float32Array out = Napi::Float32Array::New(env, logits_.size());
        std::copy(logits_.begin(), logits_.end(), out.Data());
        deferred_.Resolve(out);
      } else {
        Napi::Object out = Napi::Object::New(env);
        if (kind_ == StepKind::kTrain) {
          out.Set("loss", train_.loss);
          out.Set("correct", train_.correct);
          out.Set("gradNorm", train_.grad_norm);
        } else {
          out.Set("loss", eval_.loss);
          out.Set("correct", eval_.correct);
        }
        deferred_.Resolve(out);
      }
    } catch (const Napi::Error& e) {  // making the result failed (out of JS memory)
      deferred_.Reject(e.Value());
    }
  }
  void Fail(const Napi::Error& e) {
    holder_->busy = false;
    deferred_.Reject(e.Value());
  }

 private:
  Status RunLocked() {
    switch (kind_) {
      case StepKind::kTrain: return holder_->plan->TrainStep(batch_, hyper_, &train_);
      case StepKind::kEvaluate: return holder_->plan->Evaluate(batch_, &eval_);
      case StepKind::kPredict: return holder_->plan->Predict(batch_, logits_.data());
    }
    return Status::Internal("unknown kind of step");
  }

  Napi::Promise::Deferred deferred_;
  std::shared_ptr<PlanHolder> holder_;
  StepKind kind_;
  StepHyper hyper_;
  Plan::StagedBatch batch_;
  std::vector<float> logits_;
  StepResult train_;
  EvalResult eval_;
  Status status_;
  bool ran_ = false;
};

// A step on a libuv worker, which waits for it: device plans, and CPU steps the store's lock kept
// from running on the step thread.
class StepWorker : public Napi::AsyncWorker {
 public:
  StepWorker(Napi::Env env, std::unique_ptr<StepCall> call) : Napi::AsyncWorker(env), call_(std::move(call)) {}
  void Execute() override { call_->RunWaiting(); }
  void OnOK() override { call_->Settle(Env()); }
  void OnError(const Napi::Error& e) override { call_->Fail(e); }

 private:
  std::unique_ptr<StepCall> call_;
};

void StepCall::Arrive(Napi::Env env) {
  if (ran_) {
    Settle(env);
    return;
  }
  (new StepWorker(env, std::make_unique<StepCall>(std::move(*this))))->Queue();
}

// Starts a step: handed to the thread the plan's backend steps on where it has one (the CPU's step
// thread: two thread switches a step, StepChannel), else run on a libuv worker.
Napi::Promise StartStep(Napi::Env env, std::unique_ptr<StepCall> call) {
  Napi::Promise promise = call->Promise();
  std::shared_ptr<StepChannel> channel;
  try {
    channel = StepChannel::Of(env);
    channel->Expect(env);
  } catch (const Napi::Error&) {  // no channel (N-API refused it): the step runs on a worker
    (new StepWorker(env, std::move(call)))->Queue();
    return promise;
  }
  StepCall* handed = call.get();
  // `done` owns the call from when it runs (once, after the step); a step never queued leaves it to
  // `call`.
  if (call->plan()->PostStep([handed] { return handed->RunIfFree(); },
                             [handed, channel](Status st) {
                               std::unique_ptr<StepCall> owned(handed);
                               owned->Finished(st);
                               channel->Send(std::move(owned));
                             })) {
    (void)call.release();
    return promise;
  }
  channel->Forget(env);
  (new StepWorker(env, std::move(call)))->Queue();
  return promise;
}

class PlanWrap : public Napi::ObjectWrap<PlanWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativePlan",
                       {InstanceMethod("trainStep", &PlanWrap::TrainStep),
                        InstanceMethod("evaluate", &PlanWrap::Evaluate), InstanceMethod("predict", &PlanWrap::Predict),
                        InstanceMethod("stage", &PlanWrap::StageNext),
                        InstanceMethod("describe", &PlanWrap::Describe), InstanceMethod("profile", &PlanWrap::Profile),
                        InstanceMethod("resetProfile", &PlanWrap::ResetProfile),
                        InstanceMethod("dispose", &PlanWrap::Dispose)});
  }

  static Napi::FunctionReference* constructor;

  // new NativePlan(store, irJson, {batch, training, seed, optimizer, fuse, profile, backend, device,
  // graphs, emaDecay, useEma}) compiles on the JS thread; compilePlan() (below) compiles in a worker and wraps the
  // result through new NativePlan(External<PlanHolder>).
  explicit PlanWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PlanWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() == 1 && info[0].IsExternal()) {
      holder_ = *info[0].As<Napi::External<std::shared_ptr<PlanHolder>>>().Data();
      return;
    }
    CompileArgs args = ParseCompileArgs(info);
    holder_ = std::make_shared<PlanHolder>();
    holder_->store_mutex = args.store_mutex;
    Status st = Plan::Compile(args.ir, args.store, args.options, &holder_->plan);
    if (!st.ok()) throw StatusError(env, st);
    holder_->ir_json = std::move(args.ir);
  }

  struct CompileArgs {
    std::shared_ptr<ParameterStore> store;
    std::shared_ptr<std::mutex> store_mutex;
    std::string ir;
    PlanOptions options;
  };
  static CompileArgs ParseCompileArgs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3) ThrowType(env, "Expected (store, irJson, options)");
    if (!info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(StoreWrap::constructor->Value()))
      ThrowType(env, "Expected NativeStore for store");
    if (!info[1].IsString()) ThrowType(env, "Expected string (IR JSON) for ir");
    if (!info[2].IsObject()) ThrowType(env, "Expected object for options");
    StoreWrap* store = StoreWrap::Unwrap(info[0].As<Napi::Object>());
    Napi::Object o = info[2].As<Napi::Object>();
    CompileArgs args;
    args.store = store->store();
    args.store_mutex = store->step_mutex();
    args.ir = info[1].As<Napi::String>().Utf8Value();
    PlanOptions& options = args.options;
    double batch = NumberField(o, "batch", 0);
    if (batch < 1 || batch != static_cast<int>(batch) || batch > (1 << 20))
      ThrowRange(env, "Expected positive integer for batch but received " + std::to_string(batch));
    options.batch = static_cast<int>(batch);
    options.training = BoolField(o, "training", true);
    options.fuse = BoolField(o, "fuse", true);
    options.profile = BoolField(o, "profile", false);
    options.graphs = BoolField(o, "graphs", true);
    options.use_ema = BoolField(o, "useEma", false);
    options.image_parallel = BoolField(o, "imageParallel", true);
    double ema = NumberField(o, "emaDecay", 0);
    if (!(ema >= 0 && ema < 1)) ThrowRange(env, "Expected number in [0, 1) for emaDecay but received " + std::to_string(ema));
    options.ema_decay = static_cast<float>(ema);
    double seed = NumberField(o, "seed", 0);
    if (seed < 0) ThrowRange(env, "Expected non-negative integer for seed");
    options.seed = static_cast<uint64_t>(seed);
    Napi::Value opt = o.Get("optimizer");
    if (!opt.IsUndefined()) {
      std::string name = opt.IsString() ? opt.As<Napi::String>().Utf8Value() : "";
      if (name == "sgd") options.optimizer = OptimizerKind::kSgd;
      else if (name == "rmsprop") options.optimizer = OptimizerKind::kRmsprop;
      else ThrowType(env, "Expected 'sgd' or 'rmsprop' for optimizer");
    }
    Napi::Value backend = o.Get("backend");
    if (!backend.IsUndefined()) {
      std::string name = backend.IsString() ? backend.As<Napi::String>().Utf8Value() : "";
      if (name == "auto") options.backend = BackendKind::kAuto;
      else if (name == "cpu") options.backend = BackendKind::kCpu;
      else if (name == "cuda") options.backend = BackendKind::kCuda;
      else ThrowType(env, "Expected 'auto', 'cpu' or 'cuda' for backend");
    }
    double device = NumberField(o, "device", 0);
    if (device < 0 || device != static_cast<int>(device) || device > 1024)
      ThrowRange(env, "Expected non-negative integer for device but received " + std::to_string(device));
    options.device = static_cast<int>(device);
    return args;
  }

 private:
  Plan* Live(Napi::Env env) {
    if (!holder_ || !holder_->plan) throw Napi::Error::New(env, "plan was disposed");
    return holder_->plan.get();
  }
  void Claim(Napi::Env env) {
    bool expected = false;
    if (!holder_->busy.compare_exchange_strong(expected, true))
      throw MisuseError(env, "plan is busy: await the previous step before starting another");
  }
  Napi::Float32Array CheckImages(Napi::Env env, const Napi::Value& v) {
    Plan* p = Live(env);
    Napi::Float32Array images = ExpectFloat32(v, "images");
    size_t want = 1;
    for (int64_t d : p->input_shape()) want *= static_cast<size_t>(d);
    if (images.ElementLength() != want)
      ThrowRange(env, "Expected images of length " + std::to_string(want) + " but received " +
                          std::to_string(images.ElementLength()));
    return images;
  }
  Napi::Int32Array CheckLabels(Napi::Env env, const Napi::Value& v) {
    Plan* p = Live(env);
    Napi::Int32Array labels = ExpectInt32(v, "labels");
    size_t want = static_cast<size_t>(p->input_shape()[0]);
    if (labels.ElementLength() != want)
      ThrowRange(env, "Expected labels of length " + std::to_string(want) + " but received " +
                          std::to_string(labels.ElementLength()));
    return labels;
  }
  // Copies the inputs into a free input slot of the plan (Plan::Stage; on a device their upload
  // starts on the copy stream); the labels are range-checked in the copy (what the step will read).
  Plan::StagedBatch CopyIn(Napi::Env env, const Napi::Float32Array& images, const Napi::Int32Array* labels) {
    Plan::StagedBatch batch;
    Status st = Live(env)->Stage(images.Data(), labels != nullptr ? labels->Data() : nullptr, &batch);
    if (st.code() == StatusCode::kOutOfRange) ThrowRange(env, st.message());
    if (!st.ok()) throw StatusError(env, st);
    return batch;
  }
  // A step's inputs: the staged batch named by a number (stage()'s result), taken here on the JS
  // thread so that stage() may hand over the next batch at once, or arrays copied into a slot.
  // Claims the plan; nothing of the caller's is read after this returns.
  Plan::StagedBatch Inputs(Napi::Env env, const Napi::CallbackInfo& info, bool with_labels) {
    Live(env);
    if (info[0].IsNumber()) {
      const double id = info[0].As<Napi::Number>().DoubleValue();
      Claim(env);
      if (holder_->staged == 0 || id != static_cast<double>(holder_->staged)) {
        holder_->busy = false;
        throw MisuseError(env, "staged batch #" + std::to_string(static_cast<long long>(id)) +
                                        " is not the batch staged on this plan (a step ran it already, or another "
                                        "plan staged it)");
      }
      holder_->staged = 0;
      return Plan::StagedBatch{static_cast<uint64_t>(id)};
    }
    Napi::Float32Array images = CheckImages(env, info[0]);
    Napi::Int32Array labels;
    if (with_labels) labels = CheckLabels(env, info[1]);
    Claim(env);
    try {
      return CopyIn(env, images, with_labels ? &labels : nullptr);
    } catch (...) {
      holder_->busy = false;
      throw;
    }
  }

  // stage(images, labels?) → the batch's number: the next step's inputs, copied now (the caller may
  // reuse its arrays at once) and on a device uploaded on the copy stream while a step runs. One
  // batch at a time: a second stage() before a step took the first is an error.
  Napi::Value StageNext(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Live(env);
    if (holder_->staged != 0)
      throw MisuseError(env, "plan.stage: batch #" + std::to_string(holder_->staged) +
                                      " is staged and no step has run it yet: pass it to trainStep, evaluate or "
                                      "predict before staging another");
    Napi::Float32Array images = CheckImages(env, info[0]);
    const bool with_labels = info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull();
    Napi::Int32Array labels;
    if (with_labels) labels = CheckLabels(env, info[1]);
    Plan::StagedBatch batch = CopyIn(env, images, with_labels ? &labels : nullptr);
    holder_->staged = batch.id;
    return Napi::Number::New(env, static_cast<double>(batch.id));
  }

  Napi::Value TrainStep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Live(env);
    StepHyper h;
    if (info.Length() > 2 && !info[2].IsUndefined()) {
      if (!info[2].IsObject()) ThrowType(env, "Expected object for hyper");
      Napi::Object o = info[2].As<Napi::Object>();
      h.lr = static_cast<float>(NumberField(o, "lr", h.lr));
      h.momentum = static_cast<float>(NumberField(o, "momentum", h.momentum));
      h.nesterov = BoolField(o, "nesterov", h.nesterov);
      h.weight_decay = static_cast<float>(NumberField(o, "weightDecay", h.weight_decay));
      h.clip_norm = static_cast<float>(NumberField(o, "clipNorm", h.clip_norm));
      h.rms_decay = static_cast<float>(NumberField(o, "rmsDecay", h.rms_decay));
      h.rms_eps = static_cast<float>(NumberField(o, "rmsEpsilon", h.rms_eps));
      h.drop_path_rate = static_cast<float>(NumberField(o, "dropPathRate", h.drop_path_rate));
      double step = NumberField(o, "step", 0);
      if (step < 0) ThrowRange(env, "Expected non-negative integer for step");
      h.step = static_cast<uint64_t>(step);
      if (h.lr < 0) ThrowRange(env, "Expected non-negative number for lr");
      if (h.drop_path_rate < 0 || h.drop_path_rate >= 1) ThrowRange(env, "Expected dropPathRate in [0, 1)");
    }
    Plan::StagedBatch batch = Inputs(env, info, true);
    return StartStep(env, std::make_unique<StepCall>(env, holder_, StepKind::kTrain, h, batch));
  }
  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Plan::StagedBatch batch = Inputs(env, info, true);
    return StartStep(env, std::make_unique<StepCall>(env, holder_, StepKind::kEvaluate, StepHyper(), batch));
  }
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Plan::StagedBatch batch = Inputs(env, info, false);
    return StartStep(env, std::make_unique<StepCall>(env, holder_, StepKind::kPredict, StepHyper(), batch));
  }
  // describe({shapes}): static facts of the plan and, when `shapes` is true, every tensor's shape by
  // name (graph inputs, then node ids) as ir::InferShapes, the plan's own shape rules, gives them
  // for the plan's IR and batch (lib/ir/shapes.ts is tested against them).
  Napi::Value Describe(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Plan* p = Live(env);
    Napi::Object out = Napi::Object::New(env);
    if (info.Length() > 0 && !info[0].IsUndefined() && !info[0].IsObject()) ThrowType(env, "Expected object for options");
    if (info.Length() > 0 && info[0].IsObject() && BoolField(info[0].As<Napi::Object>(), "shapes", false)) {
      ir::Graph graph;
      ir::Shapes inferred;
      Status st = ir::ParseGraph(holder_->ir_json, &graph);
      if (st.ok()) st = ir::InferShapes(graph, static_cast<int>(p->input_shape()[0]), &inferred);
      if (!st.ok()) throw StatusError(env, st);
      Napi::Object tensors = Napi::Object::New(env);
      for (size_t t = 0; t < inferred.tensor.size(); ++t) {
        const std::vector<int64_t>& shape = inferred.tensor[t];
        Napi::Array d = Napi::Array::New(env, shape.size());
        for (size_t i = 0; i < shape.size(); ++i) d.Set(i, static_cast<double>(shape[i]));
        tensors.Set(t < graph.inputs.size() ? graph.inputs[t].name : graph.nodes[t - graph.inputs.size()].id, d);
      }
      out.Set("shapes", tensors);
    }
    std::vector<int64_t> shape = p->input_shape();
    Napi::Array dims = Napi::Array::New(env, shape.size());
    for (size_t i = 0; i < shape.size(); ++i) dims.Set(i, static_cast<double>(shape[i]));
    out.Set("inputShape", dims);
    out.Set("classes", p->classes());
    out.Set("activationBytes", static_cast<double>(p->activation_bytes()));
    out.Set("naiveActivationBytes", static_cast<double>(p->naive_activation_bytes()));
    out.Set("mergedNodes", p->merged_nodes());
    out.Set("fusedChains", p->fused_chains());
    out.Set("fusedDropPaths", p->fused_drop_paths());
    out.Set("fusedShifts", p->fused_shifts());
    out.Set("reluStridedConvs", p->relu_strided_convs());
    out.Set("fusedAdds", p->fused_adds());
    out.Set("concatInPlace", p->concat_in_place());
    out.Set("aliasedTensors", p->aliased_tensors());
    out.Set("aliasedGradients", p->aliased_gradients());
    out.Set("imageLanes", p->image_lanes());
    out.Set("laneBatch", p->lane_batch());
    out.Set("laneRuns", p->lane_runs());
    out.Set("nodeWorkers", p->node_workers());
    out.Set("backend", p->backend_name());
    out.Set("device", p->device_name());
    out.Set("notice", p->notice());
    out.Set("graphs", p->graph_status());
    std::vector<std::string> names = p->param_names();
    Napi::Array params = Napi::Array::New(env, names.size());
    for (size_t i = 0; i < names.size(); ++i) params.Set(i, names[i]);
    out.Set("params", params);
    return out;
  }
  // [{id, kind, forwardMs, backwardMs, forwardCalls, backwardCalls}] (a plan compiled with profile).
  Napi::Value Profile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Plan* p = Live(env);
    if (holder_->busy) throw MisuseError(env, "plan is busy: await the running step before profile()");
    std::vector<NodeProfile> rows;
    Status st = p->Profile(&rows);
    if (!st.ok()) throw StatusError(env, st);
    Napi::Array out = Napi::Array::New(env, rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("id", rows[i].id);
      o.Set("kind", rows[i].kind);
      o.Set("forwardMs", rows[i].forward_ms);
      o.Set("backwardMs", rows[i].backward_ms);
      o.Set("forwardCalls", static_cast<double>(rows[i].forward_calls));
      o.Set("backwardCalls", static_cast<double>(rows[i].backward_calls));
      out.Set(i, o);
    }
    return out;
  }
  Napi::Value ResetProfile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Plan* p = Live(env);
    if (holder_->busy) throw MisuseError(env, "plan is busy: await the running step before resetProfile()");
    p->ResetProfile();
    return env.Undefined();
  }
  // Writes what the plan's steps changed back to the store (a device plan), then frees it; a failed
  // write-back throws after freeing. A staged batch no step took is dropped (its upload finishes
  // first); its number then names no batch.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (holder_ && holder_->busy) throw MisuseError(env, "plan is busy: await the running step before dispose()");
    Status st;
    if (holder_ && holder_->plan) {
      std::lock_guard<std::mutex> lock(*holder_->store_mutex);
      st = holder_->plan->SyncToStore();
      holder_->plan.reset();
    }
    holder_.reset();
    if (!st.ok()) throw StatusError(env, st);
    return env.Undefined();
  }

  std::shared_ptr<PlanHolder> holder_;
};
Napi::FunctionReference* PlanWrap::constructor = nullptr;

// compilePlan(store, irJson, options) → Promise<NativePlan>: the compilation (parsing, shape
// inference, memory planning, parameter creation) runs in a worker, holding the store's step lock.
class CompileWorker : public Napi::AsyncWorker {
 public:
  CompileWorker(Napi::Env env, PlanWrap::CompileArgs args)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), args_(std::move(args)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    std::lock_guard<std::mutex> lock(*args_.store_mutex);
    status_ = Plan::Compile(args_.ir, args_.store, args_.options, &plan_);
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!status_.ok()) {
      deferred_.Reject(StatusError(env, status_).Value());
      return;
    }
    auto holder = std::make_shared<PlanHolder>();
    holder->plan = std::move(plan_);
    holder->store_mutex = args_.store_mutex;
    holder->ir_json = std::move(args_.ir);
    Napi::External<std::shared_ptr<PlanHolder>> ext = Napi::External<std::shared_ptr<PlanHolder>>::New(env, &holder);
    deferred_.Resolve(PlanWrap::constructor->New({ext}));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  PlanWrap::CompileArgs args_;
  std::unique_ptr<Plan> plan_;
  Status status_;
};

Napi::Value CompilePlan(const Napi::CallbackInfo& info) {
  auto* worker = new CompileWorker(info.Env(), PlanWrap::ParseCompileArgs(info));
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

}  // namespace

void RegisterEngine(Napi::Env env, Napi::Object exports) {
  Napi::Function store = StoreWrap::Define(env);
  StoreWrap::constructor = new Napi::FunctionReference(Napi::Persistent(store));
  exports.Set("NativeStore", store);
  Napi::Function plan = PlanWrap::Define(env);
  PlanWrap::constructor = new Napi::FunctionReference(Napi::Persistent(plan));
  exports.Set("NativePlan", plan);
  exports.Set("compilePlan", Napi::Function::New(env, CompilePlan, "compilePlan"));
}

}  // namespace nasnet::napi
