// The CPU backend's host blocks: see host_blocks.h.
#include "cpu/host_blocks.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <list>
#include <mutex>
#include <unordered_map>

namespace nasnet::cpu {

namespace {

constexpr size_t kAlign = 256;

// A large block's capacity: its size rounded up to whole pages.
size_t CapacityOf(size_t bytes) {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}

size_t DefaultLimit() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const size_t physical = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : 0;
  return std::min<size_t>(physical / 16, size_t{2} << 30);
}

// A fresh block, its pages mapped at once (MAP_POPULATE: one system call instead of a fault per
// page; a plan uses all of its arena, measured: system time of 20 new plans 2.3 → 0.4 s).
void* MapFresh(size_t cap) {
  void* p = mmap(nullptr, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

struct Cache {
  std::mutex mu;
  std::unordered_map<void*, size_t> capacity;  // every live large block (mapped here)
  std::list<std::pair<void*, size_t>> kept;     // cached blocks, oldest first
  size_t kept_bytes = 0;
  size_t limit = DefaultLimit();
  size_t reused = 0, fresh = 0;
  bool poison = false;

  // Unmaps the oldest kept blocks until at most `bytes` are kept (called with mu held).
  void TrimTo(size_t bytes) {
    while (kept_bytes > bytes && !kept.empty()) {
      auto [p, cap] = kept.front();
      kept.pop_front();
      kept_bytes -= cap;
      munmap(p, cap);
    }
  }

  // A kept block resized to `cap` (called with mu held): the smallest that holds it, else the
  // largest grown with mremap, which moves its mapped pages along and maps fresh ones after them.
  void* TakeKept(size_t cap) {
    if (kept.empty()) return nullptr;
    auto fit = kept.end(), largest = kept.begin();
    for (auto it = kept.begin(); it != kept.end(); ++it) {
      if (it->second >= cap && (fit == kept.end() || it->second < fit->second)) fit = it;
      if (it->second > largest->second) largest = it;
    }
    auto pick = fit != kept.end() ? fit : largest;
    void* p = pick->first;
    size_t have = pick->second;
    if (have < cap) {
      void* q = mremap(p, have, cap, MREMAP_MAYMOVE);
      if (q == MAP_FAILED) return nullptr;  // the block stays kept
#ifdef MADV_POPULATE_WRITE
      // The new tail's pages at once too, like a fresh block's (kernels before 5.14: faulted on use).
      madvise(static_cast<char*>(q) + have, cap - have, MADV_POPULATE_WRITE);
#endif
      p = q;
      have = cap;
    }
    kept_bytes -= pick->second;
    kept.erase(pick);
    capacity[p] = have;
    return p;
  }
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: plans may be freed during exit
  return *c;
}

}  // namespace

void* host_alloc(size_t bytes) {
  if (bytes < kMinCachedBytes) return std::aligned_alloc(kAlign, (std::max<size_t>(bytes, 1) + kAlign - 1) / kAlign * kAlign);
  const size_t cap = CapacityOf(bytes);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (void* p = c.TakeKept(cap)) {
      ++c.reused;
      if (c.poison) std::memset(p, 0xff, bytes);  // 0xffffffff: a NaN in every float
      return p;
    }
  }
  // Mapped (and populated) without holding the lock.
  void* p = MapFresh(cap);
  std::lock_guard<std::mutex> lock(c.mu);
  if (p == nullptr && !c.kept.empty()) {  // out of memory: give the cache back and try once more
    c.TrimTo(0);
    p = MapFresh(cap);
  }
  if (p == nullptr) return nullptr;
  c.capacity[p] = cap;
  ++c.fresh;
  return p;
}

void host_free(void* p) {
  if (p == nullptr) return;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.capacity.find(p);
  if (it == c.capacity.end()) {  // a small block: the C heap's
    std::free(p);
    return;
  }
  const size_t cap = it->second;
  c.capacity.erase(it);
  if (cap > c.limit) {
    munmap(p, cap);
    return;
  }
  c.TrimTo(c.limit - cap);
  c.kept.emplace_back(p, cap);
  c.kept_bytes += cap;
}

HostBlockStats host_block_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  HostBlockStats s;
  s.cached_bytes = c.kept_bytes;
  s.cached_blocks = c.kept.size();
  s.limit_bytes = c.limit;
  s.reused = c.reused;
  s.fresh = c.fresh;
  return s;
}

void host_blocks_release() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.TrimTo(0);
}

void host_blocks_set_limit(size_t bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.limit = bytes;
  c.TrimTo(bytes);
}

void host_blocks_poison(bool on) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.poison = on;
}

}  // namespace nasnet::cpu
