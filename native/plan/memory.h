// Memory planning by liveness: every buffer is live over an interval of schedule steps [start, end];
// buffers whose intervals overlap get disjoint ranges of one arena, the others may share memory.
#pragma once
#include <cstddef>
#include <functional>
#include <vector>

namespace nasnet::plan {

struct BufferRequest {
  size_t bytes = 0;  // rounded up to kAlignment by the planner
  int start = 0;     // first step that writes it
  int end = 0;       // last step that reads it (>= start)
};

constexpr size_t kAlignment = 64;

// Places each request at an offset (written to `offsets`, aligned to kAlignment) so that requests
// with overlapping intervals never overlap in memory; returns the arena size in bytes. Greedy:
// largest first, each at the lowest offset that fits between the already placed live buffers.
size_t PlanMemory(const std::vector<BufferRequest>& requests, std::vector<size_t>* offsets);
// The same placement where requests i and j may share memory unless live_together(i, j) (for a plan
// whose nodes run in an order not known in advance: unless one's every use precedes the other's
// first write in every order).
size_t PlanMemory(const std::vector<BufferRequest>& requests,
                  const std::function<bool(size_t, size_t)>& live_together, std::vector<size_t>* offsets);

// The arena size without reuse: the sum of every (aligned) request.
size_t NaiveMemory(const std::vector<BufferRequest>& requests);

}  // namespace nasnet::plan
