// Kernel execution on the emulated device.
//
// A launch runs its blocks on up to NASNET_EMU_THREADS OS threads (OpenMP, dynamic schedule); one OS
// thread runs one block at a time, with the block's shared memory in an arena of its own. Each
// thread of a block is a fiber (Boost.Context, stacks pooled per OS thread). The block scheduler
// runs the ready threads one after another, each until it reaches a barrier, a warp operation or
// its end (passes in thread order, or reversed with NASNET_EMU_ORDER=reverse); then it releases
// what can be released:
//   - a warp operation when every lane of its mask has arrived (values are exchanged then);
//   - __syncthreads when every thread of the block has arrived.
// Nothing else runs a thread, so a missing __syncthreads is deterministic: in forward order thread
// 0 runs ahead of the others and reads what they have not written yet (poisoned: NaN, or 3.4e38
// with NASNET_EMU_POISON=huge, which a max reduction cannot ignore).
// A block that can make no progress is a launch failure, never a hang: a thread that exited while
// others wait at a barrier, lanes that exited while others wait in a warp operation, or threads
// waiting at different barriers. So is a fault a kernel reports (kernel_fault). Every such error
// is sticky (cudaErrorLaunchFailure) and names the kernel, the block and the threads.
#include <sys/mman.h>
#include <unistd.h>

#include <boost/context/fiber.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "emu/internal.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace nasnet_emu {

thread_local Builtins tl_builtins = {};

namespace {

namespace bctx = boost::context;

constexpr size_t kStaticSharedLimit = 48 * 1024;       // per block, as on the device
constexpr size_t kDynamicSharedDefault = 48 * 1024;    // without cudaFuncSetAttribute
constexpr size_t kDynamicSharedOptin = 227 * 1024;     // sm_90's opt-in maximum
constexpr size_t kDynamicCanary = 256;
constexpr size_t kSharedGap = 64;                       // canary bytes before and after each shared variable
constexpr size_t kSharedVariables = 64;                 // per kernel, at most
constexpr size_t kArenaBytes = kStaticSharedLimit + (kSharedVariables + 1) * (kSharedGap + 128);
constexpr uint8_t kSharedCanary = 0xa5;

// ---- fiber stacks, pooled per OS thread (a guard page below each) -------------------------------
class StackPool {
 public:
  ~StackPool() {
    for (void* base : free_) munmap(base, bytes_ + page_);
  }
  bctx::stack_context allocate() {
    if (bytes_ == 0) {
      page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
      bytes_ = (config().stack_bytes + page_ - 1) / page_ * page_;
    }
    void* base;
    if (!free_.empty()) {
      base = free_.back();
      free_.pop_back();
    } else {
      base = mmap(nullptr, bytes_ + page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (base == MAP_FAILED) throw std::bad_alloc();
      mprotect(base, page_, PROT_NONE);
    }
    bctx::stack_context sc;
    sc.size = bytes_;
    sc.sp = static_cast<char*>(base) + page_ + bytes_;
    return sc;
  }
  void deallocate(bctx::stack_context& sc) noexcept {
    free_.push_back(static_cast<char*>(sc.sp) - bytes_ - page_);
  }

 private:
  std::vector<void*> free_;
  size_t bytes_ = 0, page_ = 0;
};

struct PooledStack {
  StackPool* pool;
  bctx::stack_context allocate() { return pool->allocate(); }
  void deallocate(bctx::stack_context& sc) noexcept { pool->deallocate(sc); }
};

// ---- a block in flight --------------------------------------------------------------------------
enum class State : uint8_t { kReady, kBarrier, kWarp, kDone, kFaulted };

struct WarpOp {
  const char* name;
  unsigned mask;
  unsigned expected;  // the mask's lanes that exist in this block
  unsigned arrived = 0;
  bool released = false;
  uint64_t values[32];
};

struct Block;

struct DevThread {
  Block* block;
  uint3 tid;
  unsigned linear;
  State state;
  int predicate;
  WarpOp* op;
  bctx::fiber fiber;  // the thread (empty before it starts and after it ends)
  bctx::fiber sink;   // the scheduler, while the thread runs
};

struct Block {
  const KernelLaunch* k = nullptr;
  uint3 bid;
  unsigned n = 0;
  std::vector<DevThread> threads;
  std::deque<WarpOp> ops;                 // this block's warp operations (addresses stay valid)
  std::vector<std::vector<WarpOp*>> open; // per warp: operations not yet released
  struct SharedVar {
    const void* tag;
    const char* name;
    size_t offset, bytes;
  };
  std::vector<SharedVar> shared;
  size_t shared_bytes = 0;  // declared (the device's 48 KiB limit counts these)
  size_t shared_end = 0;    // used in the arena, canary gaps included
  char* arena = nullptr;    // kArenaBytes, 128-aligned
  unsigned at_barrier = 0, done = 0;
  int reduced[3] = {0, 0, 0};             // __syncthreads_count / _and / _or results
  std::string error;
  char* dynamic = nullptr;
  size_t dynamic_capacity = 0;
  ~Block() {
    std::free(dynamic);
    std::free(arena);
  }
};

thread_local StackPool tl_stacks;
thread_local Block tl_block_storage;
thread_local DevThread* tl_thread = nullptr;

std::string str3(uint3 v) {
  return "(" + std::to_string(v.x) + "," + std::to_string(v.y) + "," + std::to_string(v.z) + ")";
}

// The calling device thread, or a clear failure when device code runs outside a kernel.
DevThread* current(const char* what) {
  if (tl_thread == nullptr) {
    std::fprintf(stderr, "nasnet emulated device: %s called outside a kernel\n", what);
    std::abort();
  }
  return tl_thread;
}

void yield(DevThread* t) { t->sink = std::move(t->sink).resume(); }

[[noreturn]] void fault_here(const std::string& what) {
  DevThread* t = current("a device function");
  Block* b = t->block;
  if (b->error.empty()) b->error = "thread " + str3(t->tid) + ": " + what;
  t->state = State::kFaulted;
  yield(t);
  std::abort();  // a faulted thread is never resumed (its fiber is unwound)
}

// Lists thread indices compactly: "(0,0,0), (1,0,0) ... (31,0,0) (32 threads)".
std::string list_threads(const Block& b, State s) {
  std::string out;
  unsigned count = 0;
  const DevThread* last = nullptr;
  for (const DevThread& t : b.threads) {
    if (t.state != s) continue;
    if (count < 2) out += (count ? ", " : "") + str3(t.tid);
    last = &t;
    ++count;
  }
  if (count > 2) out += " ... " + str3(last->tid);
  return out + " (" + std::to_string(count) + (count == 1 ? " thread)" : " threads)");
}

// Why a block with no ready thread cannot go on.
std::string stuck(const Block& b) {
  unsigned at_barrier = 0, at_warp = 0, done = 0;
  for (const DevThread& t : b.threads) {
    at_barrier += t.state == State::kBarrier;
    at_warp += t.state == State::kWarp;
    done += t.state == State::kDone;
  }
  if (at_warp > 0) {
    for (const DevThread& t : b.threads) {
      if (t.state != State::kWarp) continue;
      const WarpOp& op = *t.op;
      unsigned warp = t.linear / 32;
      std::string missing;
      bool exited = false;
      for (unsigned l = 0; l < 32; ++l) {
        if (!((op.expected >> l) & 1u) || ((op.arrived >> l) & 1u)) continue;
        const DevThread& m = b.threads[warp * 32 + l];
        exited |= m.state == State::kDone;
        if (missing.empty()) missing = "lane " + std::to_string(l) + " (thread " + str3(m.tid) + ")";
      }
      char mask[16];
      std::snprintf(mask, sizeof mask, "0x%08x", op.mask);
      return "warp " + std::to_string(warp) + ": " + std::string(op.name) + " with mask " + mask + " waits for " +
             missing + (exited ? ", which exited" : ", which waits elsewhere (divergent warp operation)");
    }
  }
  if (at_barrier > 0 && done > 0)
    return "threads " + list_threads(b, State::kDone) + " exited while threads " +
           list_threads(b, State::kBarrier) + " wait at __syncthreads (every thread of the block must reach each "
           "__syncthreads)";
  return "no thread can proceed";
}

bool release_warp_ops(Block& b) {
  bool released = false;
  for (auto& per_warp : b.open) {
    for (size_t i = 0; i < per_warp.size();) {
      WarpOp* op = per_warp[i];
      if (op->arrived != op->expected) {
        ++i;
        continue;
      }
      op->released = true;
      unsigned warp = &per_warp - &b.open[0];
      for (unsigned l = 0; l < 32; ++l)
        if ((op->expected >> l) & 1u) b.threads[warp * 32 + l].state = State::kReady;
      per_warp.erase(per_warp.begin() + i);
      released = true;
    }
  }
  return released;
}

void start_thread(DevThread& t, const KernelLaunch* k) {
  t.fiber = bctx::fiber(std::allocator_arg, PooledStack{&tl_stacks}, [&t, k](bctx::fiber&& sink) {
    t.sink = std::move(sink);
    k->body();
    t.state = State::kDone;
    ++t.block->done;
    return std::move(t.sink);
  });
}

// Runs block `bid` of `k` to its end; returns "" or what went wrong.
std::string run_block(const KernelLaunch& k, uint3 bid) {
  Block& b = tl_block_storage;
  b.k = &k;
  b.bid = bid;
  b.n = k.block.x * k.block.y * k.block.z;
  b.threads.resize(b.n);
  b.ops.clear();
  b.open.assign((b.n + 31) / 32, {});
  b.shared.clear();
  b.shared_bytes = 0;
  b.shared_end = kSharedGap;
  if (b.arena == nullptr) b.arena = static_cast<char*>(std::aligned_alloc(128, kArenaBytes));
  std::memset(b.arena, kSharedCanary, kSharedGap);
  b.at_barrier = b.done = 0;
  b.error.clear();
  if (k.smem > 0) {
    if (b.dynamic_capacity < k.smem + kDynamicCanary) {
      std::free(b.dynamic);
      b.dynamic_capacity = k.smem + kDynamicCanary;
      b.dynamic = static_cast<char*>(std::aligned_alloc(128, (b.dynamic_capacity + 127) / 128 * 128));
    }
    if (config().poison >= 0) std::memset(b.dynamic, config().poison, k.smem);
    std::memset(b.dynamic + k.smem, 0xa5, kDynamicCanary);
  }
  for (unsigned i = 0; i < b.n; ++i) {
    DevThread& t = b.threads[i];
    t.block = &b;
    t.linear = i;
    t.tid = uint3{i % k.block.x, (i / k.block.x) % k.block.y, i / (k.block.x * k.block.y)};
    t.state = State::kReady;
    t.op = nullptr;
    t.predicate = 0;
  }
  const char* previous = set_activity(k.name);  // named in reports of faults on this OS thread
  Builtins* builtins = &tl_builtins;            // one TLS lookup per block, not per switch
  DevThread** running = &tl_thread;
  builtins->block_idx = bid;
  builtins->block_dim = k.block;
  builtins->grid_dim = k.grid;
  const bool reverse = reverse_order();
  for (;;) {
    for (unsigned j = 0; j < b.n && b.error.empty(); ++j) {
      DevThread& t = b.threads[reverse ? b.n - 1 - j : j];
      if (t.state != State::kReady) continue;
      if (!t.fiber) start_thread(t, &k);  // a ready thread without a fiber has not started
      *running = &t;
      builtins->thread_idx = t.tid;
      t.fiber = std::move(t.fiber).resume();
    }
    *running = nullptr;
    if (!b.error.empty()) break;
    if (b.done == b.n) break;
    if (release_warp_ops(b)) continue;
    if (b.at_barrier == b.n) {
      b.at_barrier = 0;
      int count = 0, all = 1, any = 0;
      for (DevThread& t : b.threads) {
        count += t.predicate != 0;
        all &= t.predicate != 0;
        any |= t.predicate != 0;
        t.state = State::kReady;
      }
      b.reduced[0] = count;
      b.reduced[1] = all;
      b.reduced[2] = any;
      continue;
    }
    b.error = stuck(b);
    break;
  }
  // unwind threads that did not finish (a fault or a stuck block)
  for (DevThread& t : b.threads) {
    t.fiber = bctx::fiber();
    t.sink = bctx::fiber();
  }
  if (b.error.empty() && k.smem > 0) {
    for (size_t i = 0; i < kDynamicCanary; ++i)
      if (static_cast<uint8_t>(b.dynamic[k.smem + i]) != 0xa5) {
        b.error = "wrote " + std::to_string(i) + " bytes past the end of its " + std::to_string(k.smem) +
                  " bytes of dynamic shared memory";
        break;
      }
  }
  for (size_t v = 0; v < b.shared.size() && b.error.empty(); ++v) {
    const Block::SharedVar& sv = b.shared[v];
    const char* gap = b.arena + sv.offset + sv.bytes;
    for (size_t i = 0; i < kSharedGap; ++i)
      if (static_cast<uint8_t>(gap[i]) != kSharedCanary) {
        b.error = "wrote " + std::to_string(i) + " bytes past the end of shared variable '" + sv.name + "' (" +
                  std::to_string(sv.bytes) + " bytes)";
        break;
      }
    for (size_t i = 0; v == 0 && i < kSharedGap && b.error.empty(); ++i)
      if (static_cast<uint8_t>(b.arena[i]) != kSharedCanary)
        b.error = "wrote before the start of shared variable '" + std::string(sv.name) + "'";
  }
  tl_builtins = Builtins{};
  set_activity(previous);
  return b.error;
}

std::atomic<int> g_reverse{-1};  // -1: as NASNET_EMU_ORDER says

struct KernelAttributes {
  std::mutex mu;
  std::map<const void*, size_t> max_dynamic_shared;
};
KernelAttributes& attributes() {
  static KernelAttributes* a = new KernelAttributes();
  return *a;
}

}  // namespace

// ---- device-side entry points (device.h) ------------------------------------------------------
void syncthreads() {
  DevThread* t = current("__syncthreads");
  t->state = State::kBarrier;
  ++t->block->at_barrier;
  yield(t);
}

int syncthreads_reduce(int predicate, int op) {
  DevThread* t = current("__syncthreads_count/and/or");
  t->predicate = predicate;
  t->state = State::kBarrier;
  ++t->block->at_barrier;
  yield(t);
  return t->block->reduced[op];
}

const uint64_t* warp_exchange(unsigned mask, uint64_t value, const char* name) {
  DevThread* t = current(name);
  Block& b = *t->block;
  unsigned lane = t->linear % 32, warp = t->linear / 32;
  char m[16];
  std::snprintf(m, sizeof m, "0x%08x", mask);
  if (!((mask >> lane) & 1u)) fault_here(std::string(name) + " with mask " + m + ", which leaves out the calling lane");
  WarpOp* op = nullptr;
  for (WarpOp* o : b.open[warp])
    if (o->mask == mask) op = o;
  if (op == nullptr) {
    b.ops.emplace_back();
    op = &b.ops.back();
    op->name = name;
    op->mask = mask;
    unsigned lanes = b.n - warp * 32 >= 32 ? 0xffffffffu : (1u << (b.n - warp * 32)) - 1u;
    op->expected = mask & lanes;
    std::memset(op->values, 0xff, sizeof op->values);
    b.open[warp].push_back(op);
  } else if (std::strcmp(op->name, name) != 0) {
    fault_here(std::string(name) + " meets " + op->name + " of other lanes with the same mask " + m +
               " (divergent warp operations)");
  }
  op->values[lane] = value;
  op->arrived |= 1u << lane;
  t->op = op;
  t->state = State::kWarp;
  yield(t);
  return op->values;
}

void check_shfl(unsigned, unsigned src, const char* name) {
  DevThread* t = current(name);
  if (!((t->op->expected >> src) & 1u)) {
    char m[16];
    std::snprintf(m, sizeof m, "0x%08x", t->op->mask);
    fault_here(std::string(name) + " reads lane " + std::to_string(src) + ", which is not in the mask " + m +
               " or does not exist (the value would be undefined)");
  }
}

void kernel_fault(const char* what) { fault_here(what); }

void* shared_variable(const void* tag, size_t bytes, size_t align, const char* name) {
  Block& b = *current("shared memory")->block;
  for (const Block::SharedVar& v : b.shared)
    if (v.tag == tag) return b.arena + v.offset;
  if (align < 16) align = 16;
  size_t offset = (b.shared_end + align - 1) / align * align;
  b.shared_bytes += bytes;
  if (b.shared_bytes > kStaticSharedLimit)
    fault_here("declares " + std::to_string(b.shared_bytes) +
               " bytes of static shared memory; the device allows 48 KiB per block (use dynamic shared memory "
               "and cudaFuncSetAttribute for more)");
  if (b.shared.size() >= kSharedVariables || offset + bytes + kSharedGap > kArenaBytes)
    fault_here("declares more than " + std::to_string(kSharedVariables) + " shared variables");
  if (config().poison >= 0) std::memset(b.arena + offset, config().poison, bytes);
  std::memset(b.arena + offset + bytes, kSharedCanary, kSharedGap);
  b.shared.push_back(Block::SharedVar{tag, name, offset, bytes});
  b.shared_end = offset + bytes + kSharedGap;
  return b.arena + offset;
}

void* dynamic_shared() {
  Block& b = *current("dynamic shared memory")->block;
  return b.k->smem > 0 ? b.dynamic : nullptr;
}

// ---- launches -----------------------------------------------------------------------------------
void set_reverse_order(bool reverse) { g_reverse = reverse ? 1 : 0; }
bool reverse_order() {
  int r = g_reverse.load();
  return r < 0 ? config().reverse : r == 1;
}
int poison_byte() { return config().poison; }

void set_max_dynamic_shared(const void* kernel, int bytes) {
  std::lock_guard<std::mutex> lock(attributes().mu);
  attributes().max_dynamic_shared[kernel] = static_cast<size_t>(bytes);
}

size_t max_dynamic_shared(const void* kernel) {
  std::lock_guard<std::mutex> lock(attributes().mu);
  auto it = attributes().max_dynamic_shared.find(kernel);
  return it != attributes().max_dynamic_shared.end() ? it->second : kDynamicSharedDefault;
}

cudaError_t check_launch(const char* name, const void* kernel, dim3 grid, dim3 block, size_t smem) {
  std::string g = "(" + std::to_string(grid.x) + "," + std::to_string(grid.y) + "," + std::to_string(grid.z) + ")";
  std::string bl = "(" + std::to_string(block.x) + "," + std::to_string(block.y) + "," + std::to_string(block.z) + ")";
  unsigned long long threads = 1ull * block.x * block.y * block.z;
  if (block.x == 0 || block.y == 0 || block.z == 0 || block.x > 1024 || block.y > 1024 || block.z > 64 ||
      threads > 1024)
    return fail(cudaErrorInvalidConfiguration, std::string("kernel ") + name + ": block " + bl + " (" +
                                                   std::to_string(threads) +
                                                   " threads); the device allows 1024 threads per block, at most "
                                                   "(1024, 1024, 64) per dimension");
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 2147483647u || grid.y > 65535u || grid.z > 65535u)
    return fail(cudaErrorInvalidConfiguration, std::string("kernel ") + name + ": grid " + g +
                                                   "; the device allows 1 to (2^31 - 1, 65535, 65535) blocks");
  size_t limit = max_dynamic_shared(kernel);
  if (smem > limit)
    return fail(cudaErrorInvalidValue, std::string("kernel ") + name + ": " + std::to_string(smem) +
                                           " bytes of dynamic shared memory, more than the " + std::to_string(limit) +
                                           " allowed (raise it with cudaFuncSetAttribute, up to 227 KiB)");
  return cudaSuccess;
}

cudaError_t run_kernel(const KernelLaunch& k) {
  const long long total = 1ll * k.grid.x * k.grid.y * k.grid.z;
  const bool reverse = reverse_order();
  std::atomic<bool> stop{false};
  std::mutex mu;
  long long bad_block = -1;
  std::string error;
  auto one = [&](long long i) {
    if (stop.load(std::memory_order_relaxed)) return;
    long long lin = reverse ? total - 1 - i : i;
    uint3 bid{static_cast<unsigned>(lin % k.grid.x), static_cast<unsigned>((lin / k.grid.x) % k.grid.y),
              static_cast<unsigned>(lin / (1ll * k.grid.x * k.grid.y))};
    std::string e = run_block(k, bid);
    if (e.empty()) return;
    std::lock_guard<std::mutex> lock(mu);
    if (bad_block < 0 || lin < bad_block) {
      bad_block = lin;
      error = "block " + str3(bid) + ", " + e;
    }
    stop = true;
  };
  int threads = config().threads;
  if (threads > total) threads = static_cast<int>(total);
#if defined(_OPENMP)
  if (threads > 1 && !omp_in_parallel()) {
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (long long i = 0; i < total; ++i) one(i);
  } else {
    for (long long i = 0; i < total; ++i) one(i);
  }
#else
  for (long long i = 0; i < total; ++i) one(i);
#endif
  if (!error.empty()) return fail_sticky(cudaErrorLaunchFailure, std::string("kernel ") + k.name + ", " + error);
  return cudaSuccess;
}

cudaError_t launch_erased(const char* name, const void* kernel, dim3 grid, dim3 block, size_t smem,
                          cudaStream_t stream, std::function<void()> body, const PointerArg* pointers, int count) {
  NASNET_EMU_ENTER();
  if (cudaError_t e = check_stream(stream, name); e != cudaSuccess) return e;
  if (cudaError_t e = check_launch(name, kernel, grid, block, smem); e != cudaSuccess) return e;
  for (int i = 0; i < count; ++i) {
    if (pointers[i].ptr == nullptr) continue;
    Where w = find_allocation(pointers[i].ptr);
    if (!w.found || w.freed) {
      char at[32];
      std::snprintf(at, sizeof at, "%p", pointers[i].ptr);
      return fail_sticky(cudaErrorIllegalAddress,
                         std::string("kernel ") + name + ": argument " + std::to_string(pointers[i].index + 1) + " (" +
                             at + ") " + (w.freed ? "points into " + describe(w) + " (use after free)"
                                                  : "is not device memory (a host pointer?)"));
    }
  }
  auto launch = std::make_shared<KernelLaunch>(KernelLaunch{name, kernel, grid, block, smem, std::move(body)});
  return enqueue(stream, Work{std::string("kernel ") + name, [launch]() { return run_kernel(*launch); }}, name);
}

}  // namespace nasnet_emu

extern "C" cudaError_t cudaFuncSetAttribute(const void* func, enum cudaFuncAttribute attr, int value) {
  NASNET_EMU_ENTER();
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value < 0 || static_cast<size_t>(value) > nasnet_emu::kDynamicSharedOptin)
      return nasnet_emu::fail(cudaErrorInvalidValue, "cudaFuncSetAttribute: " + std::to_string(value) +
                                                         " bytes of dynamic shared memory; at most 232448 (227 KiB)");
    nasnet_emu::set_max_dynamic_shared(func, value);
  }
  return cudaSuccess;
}

extern "C" cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* numBlocks, const void*, int blockSize,
                                                                     size_t dynamicSMemSize) {
  NASNET_EMU_ENTER();
  if (numBlocks == nullptr || blockSize <= 0 || blockSize > 1024)
    return nasnet_emu::fail(cudaErrorInvalidValue, "cudaOccupancyMaxActiveBlocksPerMultiprocessor: block size");
  int by_threads = 2048 / blockSize;
  int by_smem = dynamicSMemSize > 0 ? static_cast<int>(228 * 1024 / dynamicSMemSize) : 32;
  int n = by_threads < by_smem ? by_threads : by_smem;
  *numBlocks = n < 32 ? n : 32;
  return cudaSuccess;
}
