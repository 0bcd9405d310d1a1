// StepChannel (napi_step_channel.h): a thread-safe function with no JS callback, referenced only
// while a return is expected.
#include "napi_step_channel.h"

#include <string>
#include <utility>

namespace nasnet::napi {
namespace {

// The environment's instance data: the channel, shared with the thread-safe function's finalizer
// and with every step handed over, so none of them outlives it.
struct ChannelSlot {
  std::shared_ptr<StepChannel> channel;
};

void ThrowIfFailed(Napi::Env env, napi_status status, const char* what) {
  if (status != napi_ok) throw Napi::Error::New(env, std::string("step channel: ") + what + " failed");
}

}  // namespace

std::shared_ptr<StepChannel> StepChannel::Of(Napi::Env env) {
  if (ChannelSlot* slot = env.GetInstanceData<ChannelSlot>()) return slot->channel;
  auto channel = std::make_shared<StepChannel>();
  auto* keep = new std::shared_ptr<StepChannel>(channel);  // the finalizer's own reference
  napi_value name = Napi::String::New(env, "nasnet.step");
  napi_threadsafe_function tsfn = nullptr;
  napi_status st = napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, keep, &StepChannel::Finalize,
                                                   channel.get(), &StepChannel::CallJs, &tsfn);
  if (st != napi_ok) {
    delete keep;
    ThrowIfFailed(env, st, "napi_create_threadsafe_function");
  }
  channel->tsfn_ = tsfn;
  ThrowIfFailed(env, napi_unref_threadsafe_function(env, tsfn), "napi_unref_threadsafe_function");
  env.SetInstanceData<ChannelSlot>(new ChannelSlot{channel});
  return channel;
}

void StepChannel::Expected(Napi::Env env, int delta) {
  const int before = expected_;
  expected_ += delta;
  if (tsfn_ == nullptr) return;  // finalized: the environment is shutting down
  if (before == 0 && expected_ > 0)
    ThrowIfFailed(env, napi_ref_threadsafe_function(env, tsfn_), "napi_ref_threadsafe_function");
  if (before > 0 && expected_ == 0)
    ThrowIfFailed(env, napi_unref_threadsafe_function(env, tsfn_), "napi_unref_threadsafe_function");
}

void StepChannel::Expect(Napi::Env env) { Expected(env, 1); }
void StepChannel::Forget(Napi::Env env) { Expected(env, -1); }

void StepChannel::Send(std::unique_ptr<StepReturn> ret) {
  std::lock_guard<std::mutex> lock(mu_);
  if (tsfn_ != nullptr && napi_call_threadsafe_function(tsfn_, ret.get(), napi_tsfn_nonblocking) == napi_ok) {
    ret.release();  // CallJs owns it now
    return;
  }
  (void)ret.release();  // shutting down: see Send's comment
}

void StepChannel::CallJs(napi_env env, napi_value, void* context, void* data) {
  std::unique_ptr<StepReturn> ret(static_cast<StepReturn*>(data));
  if (env == nullptr) return;  // the function is being finalized with this return still queued
  auto* self = static_cast<StepChannel*>(context);
  Napi::Env e(env);
  try {
    self->Expected(e, -1);
    ret->Arrive(e);
  } catch (const Napi::Error& err) {
    err.ThrowAsJavaScriptException();  // an uncaught exception, not a promise that never settles
  }
}

void StepChannel::Finalize(napi_env, void* data, void*) {
  auto* keep = static_cast<std::shared_ptr<StepChannel>*>(data);
  {
    std::lock_guard<std::mutex> lock((*keep)->mu_);
    (*keep)->tsfn_ = nullptr;
  }
  delete keep;
}

}  // namespace nasnet::napi
