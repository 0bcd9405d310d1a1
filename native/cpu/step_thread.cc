// The step thread (step_thread.h): one detached thread with a queue, started by the first job and
// never stopped (it waits on a condition variable when idle; the process's exit ends it).
#include "cpu/step_thread.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <utility>

namespace nasnet::cpu {
namespace {

thread_local bool t_in_step = false;

Status RunCatching(const std::function<Status()>& job) {
  try {
    return job();
  } catch (const std::bad_alloc&) {
    return Status::Exhausted("cpu: out of memory during a step");
  } catch (const std::exception& e) {
    return Status::Internal(std::string("cpu: unexpected failure during a step: ") + e.what());
  }
}

class StepThread {
 public:
  Status Run(const std::function<Status()>& job) {
    Status result;
    bool done = false;
    std::unique_lock<std::mutex> lock(mu_);
    NASNET_RETURN_IF_ERROR(StartLocked());
    queue_.emplace_back([&] {
      Status st = RunCatching(job);
      std::lock_guard<std::mutex> finished(mu_);
      result = st;
      done = true;
      finished_.notify_all();
    });
    wake_.notify_one();
    finished_.wait(lock, [&] { return done; });
    return result;
  }

  Status Post(std::function<Status()> job, std::function<void(Status)> done) {
    std::lock_guard<std::mutex> lock(mu_);
    NASNET_RETURN_IF_ERROR(StartLocked());
    queue_.emplace_back([job = std::move(job), done = std::move(done)] { done(RunCatching(job)); });
    wake_.notify_one();
    return Status::Ok();
  }

 private:
  Status StartLocked() {
    if (started_) return Status::Ok();
    try {
      std::thread([this] { Loop(); }).detach();
    } catch (const std::exception& e) {
      return Status::Internal(std::string("cpu: starting the step thread failed: ") + e.what());
    }
    started_ = true;
    return Status::Ok();
  }

  void Loop() {
    t_in_step = true;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      wake_.wait(lock, [&] { return !queue_.empty(); });
      std::function<void()> task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      task();          // each task catches its job's exceptions (RunCatching)
      task = nullptr;  // what the task holds goes before the thread sleeps
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable wake_, finished_;
  std::deque<std::function<void()>> queue_;
  bool started_ = false;
};

// Never destroyed: the detached thread may still wait on its members while the process exits.
StepThread& Instance() {
  static StepThread* instance = new StepThread();
  return *instance;
}

}  // namespace

InStepScope::InStepScope() : outer_(t_in_step) { t_in_step = true; }
InStepScope::~InStepScope() { t_in_step = outer_; }

Status RunOnStepThread(const std::function<Status()>& job) {
  if (t_in_step) return job();
  return Instance().Run(job);
}

Status PostToStepThread(std::function<Status()> job, std::function<void(Status)> done) {
  if (!job || !done) return Status::Invalid("cpu: PostToStepThread needs a job and a done");
  return Instance().Post(std::move(job), std::move(done));
}

}  // namespace nasnet::cpu
