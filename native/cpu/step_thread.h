// The thread every CPU step runs on. OpenMP (libgomp) keeps one team of worker threads per thread
// that opens a parallel region, and those workers spin for a while after each region before they
// sleep. Steps are started from Node's libuv pool (4 threads): each pool thread that ran a step had
// its own team, and the next step, on another pool thread, woke another team while the last one's
// workers still spun on the same 2 cores (8 kernel threads seen in a training profile). One step
// thread per process keeps one team, warm from step to step: NASNet-A 2@768 batch-32 training
// steps ~10% faster than from the pool (measured with UV_THREADPOOL_SIZE=1 against the default).
#pragma once
#include <functional>

#include "core/status.h"

namespace nasnet::cpu {

// Runs `job` on the process's step thread and returns its status; the calling thread waits. Jobs
// from several threads run one at a time, in arrival order. Called on the step thread itself, or on
// a thread of a team a step opened (image-parallel lanes), it runs `job` right there.
Status RunOnStepThread(const std::function<Status()>& job);

// Queues `job` on the step thread behind the jobs already there and returns at once (an error only
// when the thread cannot be started, and then neither function runs): the caller does not wait.
// When the job ends, done(its status) runs there too, a throw turned into a status as for
// RunOnStepThread. `done` must not throw; neither may wait for a thread that waits for the step
// thread (a thread in RunOnStepThread): it would wait for itself.
Status PostToStepThread(std::function<Status()> job, std::function<void(Status)> done);

// While one lives, RunOnStepThread runs jobs on the constructing thread (the threads of a team that
// a step opened, which belong to that step).
class InStepScope {
 public:
  InStepScope();
  ~InStepScope();
  InStepScope(const InStepScope&) = delete;
  InStepScope& operator=(const InStepScope&) = delete;

 private:
  bool outer_;
};

}  // namespace nasnet::cpu
