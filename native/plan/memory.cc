#include "plan/memory.h"

#include <algorithm>
#include <numeric>

namespace nasnet::plan {

namespace {
size_t Aligned(size_t b) { return (b + kAlignment - 1) / kAlignment * kAlignment; }
}  // namespace

size_t NaiveMemory(const std::vector<BufferRequest>& requests) {
  size_t total = 0;
  for (const auto& r : requests) total += Aligned(r.bytes);
  return total;
}

size_t PlanMemory(const std::vector<BufferRequest>& requests, std::vector<size_t>* offsets) {
  return PlanMemory(
      requests,
      [&](size_t a, size_t b) { return requests[a].start <= requests[b].end && requests[b].start <= requests[a].end; },
      offsets);
}

size_t PlanMemory(const std::vector<BufferRequest>& requests,
                  const std::function<bool(size_t, size_t)>& live_together, std::vector<size_t>* offsets) {
  const size_t n = requests.size();
  offsets->assign(n, 0);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (requests[a].bytes != requests[b].bytes) return requests[a].bytes > requests[b].bytes;
    return requests[a].start < requests[b].start;
  });
  std::vector<size_t> placed;
  std::vector<std::pair<size_t, size_t>> busy;  // [offset, offset + size) of live placed buffers
  size_t arena = 0;
  for (size_t i : order) {
    const BufferRequest& r = requests[i];
    const size_t size = Aligned(r.bytes);
    busy.clear();
    for (size_t j : placed)
      if (live_together(i, j)) busy.emplace_back((*offsets)[j], (*offsets)[j] + Aligned(requests[j].bytes));
    std::sort(busy.begin(), busy.end());
    size_t at = 0;
    for (const auto& b : busy) {
      if (b.first >= at + size) break;  // the gap before b fits
      at = std::max(at, b.second);
    }
    (*offsets)[i] = at;
    arena = std::max(arena, at + size);
    placed.push_back(i);
  }
  return arena;
}

}  // namespace nasnet::plan
