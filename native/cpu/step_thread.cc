// The step thread (step_thread.h): one detached thread with a queue, started by the first job and
// never stopped (it waits on a condition variable when idle; the process's exit ends it).
#include "cpu/step_thread.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <new>
#include <string>
#include <thread>

namespace nasnet::cpu {
namespace {

thread_local bool t_in_step = false;

struct Job {
  const std::function<Status()>* run = nullptr;
  Status result;
  bool done = false;
};

class StepThread {
 public:
  Status Run(const std::function<Status()>& run) {
    Job job;
    job.run = &run;
    std::unique_lock<std::mutex> lock(mu_);
    if (!started_) {
      try {
        std::thread([this] { Loop(); }).detach();
      } catch (const std::exception& e) {
        return Status::Internal(std::string("cpu: starting the step thread failed: ") + e.what());
      }
      started_ = true;
    }
    queue_.push_back(&job);
    wake_.notify_all();
    finished_.wait(lock, [&] { return job.done; });
    return job.result;
  }

 private:
  void Loop() {
    t_in_step = true;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      wake_.wait(lock, [&] { return !queue_.empty(); });
      Job* job = queue_.front();
      queue_.pop_front();
      lock.unlock();
      Status st;
      try {
        st = (*job->run)();
      } catch (const std::bad_alloc&) {
        st = Status::Exhausted("cpu: out of memory during a step");
      } catch (const std::exception& e) {
        st = Status::Internal(std::string("cpu: unexpected failure during a step: ") + e.what());
      }
      lock.lock();
      job->result = st;
      job->done = true;
      finished_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable wake_, finished_;
  std::deque<Job*> queue_;
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

}  // namespace nasnet::cpu
