// The CPU step thread (cpu/step_thread.h): every job runs on one thread whichever thread submits
// it, jobs from several threads all run (one at a time), a job submitted from the step thread or
// from a team a step opened runs right there (no deadlock), a throwing job comes back as a status,
// and jobs posted without waiting run there in order, queued with the waiting jobs, each followed
// by its `done` with its status (a throw too).
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/step_thread.h"
#include "tests/test.h"

using namespace nasnet;

NASNET_TEST(step_thread_runs_every_job_on_one_thread) {
  std::thread::id first;
  cpu::RunOnStepThread([&] {
    first = std::this_thread::get_id();
    return Status::Ok();
  });
  EXPECT_TRUE(first != std::this_thread::get_id());
  std::atomic<int> ran{0}, elsewhere{0}, running{0}, overlapped{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        Status st = cpu::RunOnStepThread([&] {
          if (running++ != 0) ++overlapped;
          if (std::this_thread::get_id() != first) ++elsewhere;
          ++ran;
          --running;
          return Status::Ok();
        });
        EXPECT_TRUE(st.ok());
      }
    });
  for (auto& t : callers) t.join();
  EXPECT_TRUE(ran == 200);
  EXPECT_TRUE(elsewhere == 0);
  EXPECT_TRUE(overlapped == 0);
}

NASNET_TEST(step_thread_nested_jobs_run_in_place) {
  // From the step thread itself, and from every thread of a team the step opens (lanes).
  std::atomic<int> inner{0};
  Status st = cpu::RunOnStepThread([&] {
    const std::thread::id step = std::this_thread::get_id();
    NASNET_RETURN_IF_ERROR(cpu::RunOnStepThread([&] {
      if (std::this_thread::get_id() == step) ++inner;
      return Status::Ok();
    }));
    cpu::parallel_team(2, [&](int, int) {
      cpu::InStepScope in_step;
      const std::thread::id mine = std::this_thread::get_id();
      Status nested = cpu::RunOnStepThread([&] {
        if (std::this_thread::get_id() == mine) ++inner;
        return Status::Ok();
      });
      if (!nested.ok()) inner = -100;
    });
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok());
  EXPECT_TRUE(inner == 3);
}

NASNET_TEST(step_thread_failures_come_back_as_status) {
  Status st = cpu::RunOnStepThread([]() -> Status { throw std::runtime_error("boom"); });
  EXPECT_TRUE(!st.ok());
  EXPECT_TRUE(st.message().find("boom") != std::string::npos);
  st = cpu::RunOnStepThread([] { return Status::OutOfRange("the job's own status"); });
  EXPECT_TRUE(st.code() == StatusCode::kOutOfRange);
  // the thread still serves jobs afterwards
  EXPECT_TRUE(cpu::RunOnStepThread([] { return Status::Ok(); }).ok());
}

NASNET_TEST(step_thread_posted_jobs_run_there_in_order_without_the_caller_waiting) {
  std::thread::id step;
  cpu::RunOnStepThread([&] {
    step = std::this_thread::get_id();
    return Status::Ok();
  });
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::vector<int> order;
  std::vector<Status> ends;
  int elsewhere = 0;
  // Each job's `done` records its status, on the step thread too.
  auto done = [&](Status st) {
    std::lock_guard<std::mutex> lock(mu);
    if (std::this_thread::get_id() != step) ++elsewhere;
    ends.push_back(st);
  };
  // The first job blocks the step thread until the caller releases it: PostToStepThread must have
  // returned by then (the caller did not wait), and the later jobs and a waiting job queue behind it.
  EXPECT_TRUE(cpu::PostToStepThread(
                  [&] {
                    std::unique_lock<std::mutex> lock(mu);
                    cv.wait(lock, [&] { return release; });
                    order.push_back(0);
                    return Status::Ok();
                  },
                  done)
                  .ok());
  for (int k = 1; k <= 2; ++k)
    EXPECT_TRUE(cpu::PostToStepThread(
                    [&, k] {
                      std::lock_guard<std::mutex> lock(mu);
                      if (std::this_thread::get_id() != step) ++elsewhere;
                      order.push_back(k);
                      return Status::OutOfRange("job " + std::to_string(k));
                    },
                    done)
                    .ok());
  // A throwing job reaches its `done` as a status, as RunOnStepThread returns one.
  EXPECT_TRUE(cpu::PostToStepThread(
                  [&]() -> Status {
                    {
                      std::lock_guard<std::mutex> lock(mu);
                      order.push_back(3);
                    }
                    throw std::runtime_error("posted boom");
                  },
                  done)
                  .ok());
  std::thread waiter([&] {
    Status st = cpu::RunOnStepThread([&] {
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(4);
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok());
  });
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_TRUE(order.empty() && ends.empty());
    release = true;
  }
  cv.notify_all();
  waiter.join();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_TRUE((order == std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(ends.size() == 4);
  if (ends.size() == 4) {
    EXPECT_TRUE(ends[0].ok());
    EXPECT_TRUE(ends[1].code() == StatusCode::kOutOfRange && ends[1].message() == "job 1");
    EXPECT_TRUE(ends[2].message() == "job 2");
    EXPECT_TRUE(!ends[3].ok() && ends[3].message().find("posted boom") != std::string::npos);
  }
  EXPECT_TRUE(elsewhere == 0);
  EXPECT_TRUE(!cpu::PostToStepThread(nullptr, done).ok());
  EXPECT_TRUE(!cpu::PostToStepThread([] { return Status::Ok(); }, nullptr).ok());
}
