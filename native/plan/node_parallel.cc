// Node-parallel inference (plan_impl.h, "Image-parallel inference"): a plan of one image whose
// independent nodes run at once on a few threads. Every buffer is its own (PlanBuffers: no reuse),
// so any order that respects the data dependencies computes the same floats as the schedule.
#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include "plan/plan_impl.h"

namespace nasnet::plan {

Status CompiledPlan::BuildNodeGraphs() {
  const int n = static_cast<int>(graph_.nodes.size());
  for (Mode mode : {kEval, kPredict}) {
    NodeGraph& g = node_graph_[mode];
    const std::vector<char>& active = active_[mode];
    g.nodes.clear();
    g.waits.assign(static_cast<size_t>(n), 0);
    g.consumers.assign(static_cast<size_t>(n), {});
    for (int i = 0; i < n; ++i) {
      if (!active[i]) continue;
      g.nodes.push_back(i);
      std::vector<int> producers;
      for (int t : shapes_.node[i].in) {
        const int p = t - n_inputs_;
        if (p < 0) continue;  // a graph input
        if (!active[p])
          return Status::Internal("plan: node '" + graph_.nodes[i].id + "' reads '" + graph_.nodes[p].id +
                                  "', which does not run in this mode");
        if (std::find(producers.begin(), producers.end(), p) == producers.end()) producers.push_back(p);
      }
      g.waits[i] = static_cast<int>(producers.size());
      for (int p : producers) g.consumers[p].push_back(i);
    }
  }
  return Status::Ok();
}

Status CompiledPlan::ForwardConcurrent(Mode mode) {
  const NodeGraph& g = node_graph_[mode];
  const int total = static_cast<int>(g.nodes.size());
  std::unique_ptr<std::atomic<int>[]> waits(new std::atomic<int>[g.waits.size()]);
  for (size_t i = 0; i < g.waits.size(); ++i) waits[i].store(g.waits[i], std::memory_order_relaxed);
  // Ready nodes on one stack per worker, last in first out: a worker goes on with the nodes it made
  // ready (a branch's next unit, whose input is still in its own cache), and takes the oldest node
  // of another worker's stack only when its own is empty (an independent branch). One lock orders a
  // producer's writes before its consumer's reads.
  std::mutex mu;
  std::vector<std::vector<int>> ready(static_cast<size_t>(node_workers_));
  for (auto it = g.nodes.rbegin(); it != g.nodes.rend(); ++it)
    if (g.waits[*it] == 0) ready[0].push_back(*it);
  std::atomic<int> done{0};
  std::atomic<bool> failed{false};
  // Each worker drains the stacks, so the step completes whatever number of threads the backend
  // gives it (one runs every node in turn).
  return backend_->RunConcurrently(node_workers_, [&](int worker) -> Status {
    std::vector<int>& own = ready[static_cast<size_t>(worker) % ready.size()];
    for (;;) {
      int i = -1;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!own.empty()) {
          i = own.back();
          own.pop_back();
        } else {
          for (std::vector<int>& other : ready)
            if (!other.empty()) {
              i = other.front();
              other.erase(other.begin());
              break;
            }
        }
      }
      if (i < 0) {
        if (failed || done.load() == total) return Status::Ok();
        std::this_thread::yield();  // the other worker is running what comes next
        continue;
      }
      Status st = Timed(profile_.empty() ? nullptr : &profile_[i], false,
                        [&] { return InNode(i, false, ForwardNode(i, false)); });
      if (!st.ok()) {
        failed = true;
        return st;
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        for (int c : g.consumers[i])
          if (--waits[c] == 0) own.push_back(c);
      }
      ++done;
    }
  });
}

}  // namespace nasnet::plan
