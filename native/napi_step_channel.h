// The way back to JavaScript for steps handed to a native thread that no thread of Node waits on
// (the CPU's step thread, Plan::PostStep). An AsyncWorker takes four thread switches a step: the JS
// thread wakes a libuv worker, the worker wakes the step thread and sleeps until the step is done,
// then wakes the JS thread. A step handed to the step thread directly takes two: the JS thread
// wakes the step thread, which sends the step back through this channel (a thread-safe function).
#pragma once
#include <napi.h>

#include <memory>
#include <mutex>

namespace nasnet::napi {

// What a step handed over does back on the JS thread (settle its promise).
class StepReturn {
 public:
  virtual ~StepReturn() = default;
  virtual void Arrive(Napi::Env env) = 0;
};

// One per environment (Of): the JS thread calls Expect before it hands a step over, and the thread
// that ran the step calls Send with what comes back. While a return is expected the event loop
// stays alive, as it does for an AsyncWorker; when none is, the channel keeps no process running.
class StepChannel {
 public:
  // The environment's channel, made on first use (JS thread).
  static std::shared_ptr<StepChannel> Of(Napi::Env env);

  // JS thread: one return more to come (Expect) or, when the step could not be handed over after
  // all, one fewer (Forget).
  void Expect(Napi::Env env);
  void Forget(Napi::Env env);
  // Any thread: ret->Arrive(env) will run on the JS thread. While the environment shuts down
  // (process.exit() during a step) the return is dropped without running, and without freeing what
  // it holds: that may belong to the JS thread, which is gone.
  void Send(std::unique_ptr<StepReturn> ret);

 private:
  static void CallJs(napi_env env, napi_value callback, void* context, void* data);
  static void Finalize(napi_env env, void* data, void* hint);
  void Expected(Napi::Env env, int delta);

  std::mutex mu_;                            // guards tsfn_ against Finalize (JS thread) while Send runs
  napi_threadsafe_function tsfn_ = nullptr;  // null from Finalize on
  int expected_ = 0;                         // JS thread only
};

}  // namespace nasnet::napi
