// Node-parallel inference (plan_impl.h, "Image-parallel inference"): a plan of one image whose
// independent nodes run at once on a few threads. Two buffers share memory only where one's every
// use precedes the other's first write in any order that respects the data dependencies
// (NodeParallelLiveTogether), so every such order computes the same floats as the schedule.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "plan/plan_impl.h"

namespace nasnet::plan {

namespace {
// A worker keeps to its own ready nodes unless another's best ranks more than 1 / kKeepOwn higher.
// NASNet-A 2@768 at batch 1, in one process against the same plan taking the critical path first
// always (kKeepOwn 1): 1.01-1.03× (0.8 and 0.95 within noise of 0.6).
constexpr double kKeepOwn = 0.6;
}  // namespace

std::function<bool(size_t, size_t)> CompiledPlan::NodeParallelLiveTogether() const {
  const int n = static_cast<int>(graph_.nodes.size());
  const int I = n_inputs_;
  const size_t words = (static_cast<size_t>(n) + 63) / 64;
  // Each node's strict ancestors (through the data edges: whatever order the workers take, these
  // ran before it), as bits.
  auto ancestors = std::make_shared<std::vector<uint64_t>>(static_cast<size_t>(n) * words, 0);
  for (int i = 0; i < n; ++i) {
    if (dead_[i]) continue;
    uint64_t* mine = ancestors->data() + static_cast<size_t>(i) * words;
    for (int t : shapes_.node[i].in) {
      const int p = t - I;
      if (p < 0) continue;
      const uint64_t* theirs = ancestors->data() + static_cast<size_t>(p) * words;
      for (size_t w = 0; w < words; ++w) mine[w] |= theirs[w];
      mine[static_cast<size_t>(p) / 64] |= uint64_t{1} << (p % 64);
    }
  }
  // Per buffer request: the nodes that write it (their output's buffer: a Concat's and the chains
  // writing its channels in place; an Identity's or Flatten's root, counted as written) and every
  // node that writes or reads it. Requests of no tensor (none in an inference plan) get neither.
  auto writers = std::make_shared<std::vector<std::vector<int>>>(requests_.size());
  auto users = std::make_shared<std::vector<std::vector<int>>>(requests_.size());
  const auto buffer_of = [&](int t) {
    const int r = value_root_[view_root_[t] >= 0 ? view_root_[t] : t];
    return value_buf_[r];
  };
  for (int i = 0; i < n; ++i) {
    if (dead_[i]) continue;
    const int out = buffer_of(I + i);
    if (out >= 0) {
      (*writers)[static_cast<size_t>(out)].push_back(i);
      (*users)[static_cast<size_t>(out)].push_back(i);
    }
    for (int t : shapes_.node[i].in) {
      const int b = buffer_of(t);
      if (b >= 0) (*users)[static_cast<size_t>(b)].push_back(i);
    }
  }
  // The step's results (logits, the loss) are read after its last node: they share with nothing.
  std::vector<int> results;
  for (int t : {shapes_.logits, shapes_.loss})
    if (t >= 0 && buffer_of(t) >= 0) results.push_back(buffer_of(t));
  // a's every use precedes b's every write, in every order.
  const auto before = [=](size_t a, size_t b) {
    if ((*users)[a].empty() || (*writers)[b].empty()) return false;
    for (int r : results)
      if (static_cast<size_t>(r) == a) return false;
    for (int y : (*writers)[b]) {
      const uint64_t* anc = ancestors->data() + static_cast<size_t>(y) * words;
      for (int x : (*users)[a])
        if (!(anc[static_cast<size_t>(x) / 64] >> (x % 64) & 1)) return false;
    }
    return true;
  };
  return [=](size_t a, size_t b) { return !before(a, b) && !before(b, a); };
}

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
    // Each node's rank: its estimated cost (NodeCost) plus the costliest chain of consumers after it,
    // the time still ahead of the step once it starts (HEFT's upward rank).
    g.rank.assign(static_cast<size_t>(n), 0.0);
    for (int i = n - 1; i >= 0; --i) {
      if (!active[i]) continue;
      double after = 0.0;
      for (int c : g.consumers[i]) after = std::max(after, g.rank[c]);
      g.rank[i] = NodeCost(i) + after;
    }
  }
  return Status::Ok();
}

// A node's cost for ranking, in FLOP: a fused chain's or a convolution's (2 a multiply-add); 8 an
// output element for the other nodes, which are bound by memory.
double CompiledPlan::NodeCost(int i) const {
  const ir::Resolved& r = shapes_.node[i];
  const auto& ys = shapes_.tensor[n_inputs_ + i];
  const double out = static_cast<double>(ir::Numel(ys));
  if (IsFused(i)) {
    const FusedConvBnShape& f = fused_[i].shape;
    const double ohw = static_cast<double>(f.OH) * f.OW;
    return 2.0 * f.K * f.C * ohw + (f.has_depthwise ? 2.0 * f.C * f.dw.kh * f.dw.kw * ohw : 0.0);
  }
  if (graph_.nodes[i].op == ir::Op::kConv)
    return 2.0 * out * (r.conv.C / r.conv.groups) * r.conv.kh * r.conv.kw;
  return 8.0 * out;
}

Status CompiledPlan::ForwardConcurrent(Mode mode) {
  const NodeGraph& g = node_graph_[mode];
  const int total = static_cast<int>(g.nodes.size());
  std::unique_ptr<std::atomic<int>[]> waits(new std::atomic<int>[g.waits.size()]);
  for (size_t i = 0; i < g.waits.size(); ++i) waits[i].store(g.waits[i], std::memory_order_relaxed);
  // Ready nodes on one list per worker: those it made ready itself (a branch's next unit, its input
  // still in this worker's cache). A worker takes the highest-ranked node of its own list unless
  // another list holds one ranked more than 1 / kKeepOwn higher (the critical path first, where it
  // is clearly elsewhere). One lock orders a producer's writes before its consumer's reads.
  std::mutex mu;
  std::vector<std::vector<int>> ready(static_cast<size_t>(node_workers_));
  for (int i : g.nodes)
    if (g.waits[i] == 0) ready[0].push_back(i);
  // The highest-ranked node of a list (the first of equals), or -1.
  const auto best_of = [&](const std::vector<int>& list) {
    int at = -1;
    for (size_t k = 0; k < list.size(); ++k)
      if (at < 0 || g.rank[list[k]] > g.rank[list[static_cast<size_t>(at)]]) at = static_cast<int>(k);
    return at;
  };
  std::atomic<int> done{0};
  std::atomic<bool> failed{false};
  // Each worker drains the lists, so the step completes whatever number of threads the backend
  // gives it (one runs every node in turn).
  return backend_->RunConcurrently(node_workers_, [&](int worker) -> Status {
    std::vector<int>& own = ready[static_cast<size_t>(worker) % ready.size()];
    for (;;) {
      int i = -1;
      {
        std::lock_guard<std::mutex> lock(mu);
        std::vector<int>* from = &own;
        int at = best_of(own);
        for (std::vector<int>& other : ready) {
          if (&other == &own) continue;
          const int k = best_of(other);
          if (k >= 0 && (at < 0 || g.rank[other[static_cast<size_t>(k)]] * kKeepOwn >
                                       g.rank[(*from)[static_cast<size_t>(at)]])) {
            from = &other;
            at = k;
          }
        }
        if (at >= 0) {
          i = (*from)[static_cast<size_t>(at)];
          from->erase(from->begin() + at);
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
