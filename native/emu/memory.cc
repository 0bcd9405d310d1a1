// Memory of the emulated device, on host pages, laid out so that bad accesses are caught:
//
//   [guard page][canary ... front redzone (>= 256 B)][user bytes, 256-aligned][tail canary < 256 B][guard page]
//
// - The user range ends right before the back guard page (up to 255 bytes of canary between, for
//   the 256-byte alignment cudaMalloc guarantees): a read or write past the end faults at once.
// - Canaries (the word 0x7f80dead: a signalling NaN as a float) around the user bytes catch small overruns
//   and underruns that stay inside the pages; they are checked after every kernel, at free and at
//   device synchronization.
// - Faults on guard pages (and on freed memory, kept inaccessible in a quarantine for a while) are
//   caught by a SIGSEGV handler, recorded (address, allocation, read or write, kernel, block and
//   thread), and the page is opened so the access completes; after the operation the page is
//   closed again and the device gets a sticky cudaErrorIllegalAddress naming what happened.
//   Faults elsewhere go to the previous handler (Node's, or the default crash).
// - New allocations (device and pinned) are filled with 0xff bytes (NaN floats): a kernel that
//   reads memory nobody wrote produces NaNs, not plausible zeros (NASNET_EMU_POISON: see config).
// Device memory counts against NASNET_EMU_MEMORY (default 8 GiB): past it, cudaErrorMemoryAllocation.
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>

#include "emu/internal.h"

namespace nasnet_emu {

namespace {

constexpr size_t kAlign = 256;       // cudaMalloc's alignment
constexpr size_t kFrontRedzone = 256;
// A signalling NaN: a kernel that reads the canary computes NaN, and arithmetic on it gives a quiet
// NaN, so even a read-modify-write past the end (w[n] -= lr * v[n]) changes it.
constexpr uint32_t kCanary = 0x7f80deadu;
constexpr size_t kQuarantineCount = 1024;

size_t page_size() {
  static const size_t p = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return p;
}
size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

uint8_t canary_byte(uintptr_t addr) { return static_cast<uint8_t>(kCanary >> (8 * (addr % 4))); }

void fill_canary(char* lo, char* hi) {
  for (char* p = lo; p < hi; ++p) *p = static_cast<char>(canary_byte(reinterpret_cast<uintptr_t>(p)));
}
// The first byte in [lo, hi) that is not the canary, or nullptr (8 bytes at a time: this runs after
// every kernel, over every live allocation).
const char* find_broken_canary(const char* lo, const char* hi) {
  const char* p = lo;
  for (; p < hi && reinterpret_cast<uintptr_t>(p) % 8 != 0; ++p)
    if (static_cast<uint8_t>(*p) != canary_byte(reinterpret_cast<uintptr_t>(p))) return p;
  const uint64_t word = (static_cast<uint64_t>(kCanary) << 32) | kCanary;
  for (; p + 8 <= hi; p += 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    if (v != word) break;  // the byte loop below finds which
  }
  for (; p < hi; ++p)
    if (static_cast<uint8_t>(*p) != canary_byte(reinterpret_cast<uintptr_t>(p))) return p;
  return nullptr;
}

struct Alloc {
  uint64_t id = 0;
  MemKind kind = MemKind::kDevice;
  const char* how = "";
  char* map = nullptr;  // the whole mapping (nullptr: registered host memory, not ours)
  size_t map_len = 0;
  char* user = nullptr;
  size_t size = 0;
  int slot = -1;        // in the fault handler's table
  bool graph_owned = false;
  size_t accounted = 0; // device bytes counted against the limit
};

// ---- the fault handler's table: read without locks inside the signal handler --------------------
constexpr int kSlots = 1 << 14;
struct Slot {
  std::atomic<uintptr_t> lo{0}, hi{0};  // the mapping; 0, 0 when free
  std::atomic<uintptr_t> user{0};
  std::atomic<size_t> size{0};
  std::atomic<uint64_t> id{0};
  std::atomic<int> kind{0};
  std::atomic<bool> freed{false};
};
Slot g_slots[kSlots];

constexpr int kMaxFaults = 16;
struct Fault {
  uintptr_t addr;
  uintptr_t user;
  size_t size;
  uint64_t id;
  int kind;
  bool freed;
  int access;  // 0 read, 1 write, 2 unknown
  const char* activity;
  bool in_kernel;
  uint3 block, thread;
};
Fault g_faults[kMaxFaults];
std::atomic<int> g_fault_count{0};
struct sigaction g_previous;

// Read by the handler, like tl_builtins: every thread that runs device work has set both before it
// can fault (run_work, run_block), so reading them in the handler allocates nothing. (Not
// initial-exec TLS: that would make dlopen reserve the module's whole TLS, shared memory included.)
thread_local const char* tl_activity = nullptr;

void on_segv(int sig, siginfo_t* info, void* context) {
  uintptr_t addr = reinterpret_cast<uintptr_t>(info->si_addr);
  for (int i = 0; i < kSlots; ++i) {
    uintptr_t lo = g_slots[i].lo.load(std::memory_order_acquire);
    if (lo == 0 || addr < lo || addr >= g_slots[i].hi.load(std::memory_order_acquire)) continue;
    int n = g_fault_count.fetch_add(1);
    if (n < kMaxFaults) {
      Fault& f = g_faults[n];
      f.addr = addr;
      f.user = g_slots[i].user.load();
      f.size = g_slots[i].size.load();
      f.id = g_slots[i].id.load();
      f.kind = g_slots[i].kind.load();
      f.freed = g_slots[i].freed.load();
      f.access = 2;
#if defined(__x86_64__)
      f.access = (static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_ERR] & 2) ? 1 : 0;
#endif
      f.activity = tl_activity;
      f.in_kernel = tl_builtins.block_dim.x != 0;
      f.block = tl_builtins.block_idx;
      f.thread = tl_builtins.thread_idx;
    }
    // open the page so the access completes; check_memory() closes it again after the operation
    uintptr_t page = addr & ~(uintptr_t)(page_size() - 1);
    mprotect(reinterpret_cast<void*>(page), page_size(), PROT_READ | PROT_WRITE);
    return;
  }
  // not ours: the previous handler (Node's, or the default action: the process dies as it would have)
  if (g_previous.sa_flags & SA_SIGINFO) {
    g_previous.sa_sigaction(sig, info, context);
  } else if (g_previous.sa_handler == SIG_DFL || g_previous.sa_handler == SIG_IGN) {
    sigaction(SIGSEGV, &g_previous, nullptr);  // the faulting instruction re-runs and dies
  } else {
    g_previous.sa_handler(sig);
  }
}

void install_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &g_previous);
  });
}

// ---- the allocation tables --------------------------------------------------------------------
struct State {
  std::mutex mu;
  std::map<uintptr_t, Alloc> live;   // by user address
  std::deque<Alloc> quarantine;      // freed, inaccessible, oldest first
  std::deque<int> free_slots;
  size_t device_used = 0;
  uint64_t next_id = 1;
  State() {
    for (int i = 0; i < kSlots; ++i) free_slots.push_back(i);
  }
};
State& state() {
  static State* s = new State();  // never destroyed: frees may come during exit
  return *s;
}

void publish(Alloc& a, bool freed) {  // with state().mu held
  if (a.map == nullptr) return;
  State& st = state();
  if (a.slot < 0) {
    if (st.free_slots.empty()) return;  // no fault reports for this one; canaries still work
    a.slot = st.free_slots.front();
    st.free_slots.pop_front();
  }
  Slot& s = g_slots[a.slot];
  s.lo.store(0, std::memory_order_release);
  s.user = reinterpret_cast<uintptr_t>(a.user);
  s.size = a.size;
  s.id = a.id;
  s.kind = static_cast<int>(a.kind);
  s.freed = freed;
  s.hi.store(reinterpret_cast<uintptr_t>(a.map + a.map_len), std::memory_order_release);
  s.lo.store(reinterpret_cast<uintptr_t>(a.map), std::memory_order_release);
}

void unpublish(Alloc& a) {  // with state().mu held
  if (a.slot < 0) return;
  g_slots[a.slot].lo.store(0, std::memory_order_release);
  g_slots[a.slot].hi.store(0, std::memory_order_release);
  state().free_slots.push_back(a.slot);
  a.slot = -1;
}

void protect_guards(const Alloc& a) {
  if (a.map == nullptr) return;
  size_t p = page_size();
  mprotect(a.map, p, PROT_NONE);
  mprotect(a.map + a.map_len - p, p, PROT_NONE);
}

// Maps a guarded region for `size` user bytes; fills canaries and (optionally) poison.
bool map_guarded(size_t size, Alloc* a) {
  install_handler();
  size_t p = page_size();
  size_t data = round_up(size + kFrontRedzone + kAlign, p);
  size_t len = data + 2 * p;
  void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return false;
  a->map = static_cast<char*>(m);
  a->map_len = len;
  char* data_lo = a->map + p;
  char* data_hi = data_lo + data;
  a->user = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(data_hi) - size) & ~(uintptr_t)(kAlign - 1));
  a->size = size;
  fill_canary(data_lo, a->user);
  fill_canary(a->user + size, data_hi);
  if (config().poison >= 0) std::memset(a->user, config().poison, size);
  protect_guards(*a);
  return true;
}

// `capturable`: legal during a global-mode stream capture (only cudaMallocAsync is).
cudaError_t allocate(void** out, size_t size, MemKind kind, const char* how, bool capturable = false) {
  NASNET_EMU_ENTER();
  if (!capturable)
    if (cudaError_t e = capture_forbids(how, false); e != cudaSuccess) return e;
  if (out == nullptr) return fail(cudaErrorInvalidValue, std::string(how) + ": the result pointer is null");
  *out = nullptr;
  if (size == 0) return cudaSuccess;
  State& st = state();
  const bool device = kind == MemKind::kDevice || kind == MemKind::kManaged;
  size_t accounted = device ? round_up(size, kAlign) : 0;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    const size_t limit = config().memory_limit;
    if (device && (size > limit || st.device_used + accounted > limit))
      return fail(cudaErrorMemoryAllocation,
                  std::string(how) + " of " + std::to_string(size) + " bytes: " + std::to_string(st.device_used) +
                      " of " + std::to_string(limit) + " bytes in use (limit: NASNET_EMU_MEMORY)");
    st.device_used += accounted;
  }
  Alloc a;
  a.kind = kind;
  a.how = how;
  a.accounted = accounted;
  if (!map_guarded(size, &a)) {
    std::lock_guard<std::mutex> lock(st.mu);
    st.device_used -= accounted;
    return fail(cudaErrorMemoryAllocation, std::string(how) + " of " + std::to_string(size) +
                                               " bytes: the host could not map that much memory");
  }
  std::lock_guard<std::mutex> lock(st.mu);
  a.id = st.next_id++;
  publish(a, false);
  *out = a.user;
  st.live.emplace(reinterpret_cast<uintptr_t>(a.user), a);
  return cudaSuccess;
}

std::string redzone_error(const Alloc& a) {
  if (a.map == nullptr) return "";
  const char* front = a.user - kFrontRedzone;
  const char* tail_end = a.map + a.map_len - page_size();
  const char* bad = find_broken_canary(front, a.user);
  if (bad != nullptr)
    return "bytes before the start of " + describe(Where{true, a.kind, a.id, a.user, a.size, false}) +
           " were overwritten (first at offset -" + std::to_string(a.user - bad) + ")";
  bad = find_broken_canary(a.user + a.size, tail_end);
  if (bad != nullptr)
    return "bytes past the end of " + describe(Where{true, a.kind, a.id, a.user, a.size, false}) +
           " were overwritten (first at offset " + std::to_string(bad - a.user) + ", " +
           std::to_string(bad - (a.user + a.size)) + " bytes past the end)";
  return "";
}

void quarantine(Alloc a) {  // with state().mu held
  State& st = state();
  st.device_used -= a.accounted;
  if (a.map == nullptr) return;
  madvise(a.map, a.map_len, MADV_DONTNEED);
  mprotect(a.map, a.map_len, PROT_NONE);
  publish(a, true);
  st.quarantine.push_back(a);
  while (st.quarantine.size() > kQuarantineCount) {
    Alloc& old = st.quarantine.front();
    unpublish(old);
    munmap(old.map, old.map_len);
    st.quarantine.pop_front();
  }
}

std::string hex(uintptr_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%" PRIxPTR, v);
  return buf;
}

}  // namespace

const char* mem_kind_name(MemKind k) {
  switch (k) {
    case MemKind::kDevice: return "device";
    case MemKind::kManaged: return "managed";
    case MemKind::kPinned: return "pinned host";
    case MemKind::kRegistered: return "registered host";
  }
  return "?";
}

bool device_accessible(MemKind) { return true; }  // device, managed, pinned and registered: all mapped

std::string describe(const Where& w) {
  return std::string(w.freed ? "the freed " : "the ") + std::to_string(w.size) + "-byte " + mem_kind_name(w.kind) +
         " allocation #" + std::to_string(w.id) + " at " + hex(reinterpret_cast<uintptr_t>(w.user));
}

Where find_allocation(const void* p) {
  Where w;
  if (p == nullptr) return w;
  State& st = state();
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  std::lock_guard<std::mutex> lock(st.mu);
  auto it = st.live.upper_bound(a);
  if (it != st.live.begin()) {
    --it;
    const Alloc& al = it->second;
    if (a >= it->first && a <= it->first + al.size) return Where{true, al.kind, al.id, al.user, al.size, false};
  }
  for (auto q = st.quarantine.rbegin(); q != st.quarantine.rend(); ++q) {
    uintptr_t lo = reinterpret_cast<uintptr_t>(q->map), hi = lo + q->map_len;
    if (a >= lo && a < hi) return Where{true, q->kind, q->id, q->user, q->size, true};
  }
  return w;
}

std::string check_device_range(const void* p, size_t n) {
  Where w = find_allocation(p);
  std::string at = hex(reinterpret_cast<uintptr_t>(p));
  if (!w.found) return at + " is not device memory (not from cudaMalloc, cudaMallocAsync or cudaMallocManaged)";
  if (w.freed) return at + " lies in " + describe(w) + ": use after free";
  if (w.kind == MemKind::kPinned || w.kind == MemKind::kRegistered)
    return at + " is host memory (" + describe(w) + "), not device memory";
  size_t off = static_cast<const char*>(p) - w.user;
  if (off + n > w.size)
    return std::to_string(n) + " bytes at offset " + std::to_string(off) + " of " + describe(w) + " run " +
           std::to_string(off + n - w.size) + " bytes past its end";
  return "";
}

std::string check_host_range(const void* p, size_t n, bool* pinned) {
  *pinned = false;
  Where w = find_allocation(p);
  std::string at = hex(reinterpret_cast<uintptr_t>(p));
  if (!w.found) return "";  // pageable host memory
  if (w.freed) return at + " lies in " + describe(w) + ": use after free";
  if (w.kind == MemKind::kDevice || w.kind == MemKind::kManaged) {
    if (w.kind == MemKind::kManaged) return "";
    return at + " is device memory (" + describe(w) + "), not host memory";
  }
  size_t off = static_cast<const char*>(p) - w.user;
  if (off + n > w.size)
    return std::to_string(n) + " bytes at offset " + std::to_string(off) + " of " + describe(w) + " run " +
           std::to_string(off + n - w.size) + " bytes past its end";
  *pinned = true;
  return "";
}

size_t device_bytes_used() {
  std::lock_guard<std::mutex> lock(state().mu);
  return state().device_used;
}

const char* set_activity(const char* what) {
  const char* previous = tl_activity;
  tl_activity = what;
  return previous;
}

std::string check_memory(const char* after) {
  std::string msg;
  int faults = g_fault_count.load();
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  if (faults > 0) {
    const Fault& f = g_faults[0];
    Where w{true, static_cast<MemKind>(f.kind), f.id, reinterpret_cast<const char*>(f.user), f.size, f.freed};
    const char* access = f.access == 1 ? "write" : f.access == 0 ? "read" : "access";
    msg = f.activity != nullptr ? f.activity : after;
    if (f.in_kernel)
      msg = "kernel " + msg + ", block (" + std::to_string(f.block.x) + "," + std::to_string(f.block.y) + "," +
             std::to_string(f.block.z) + "), thread (" + std::to_string(f.thread.x) + "," +
             std::to_string(f.thread.y) + "," + std::to_string(f.thread.z) + ")";
    msg += ": " + std::string(access) + " at " + hex(f.addr) + ", ";
    long long off = static_cast<long long>(f.addr) - static_cast<long long>(f.user);
    if (f.freed)
      msg += "offset " + std::to_string(off) + " of " + describe(w) + " (use after free, or an index far out of range)";
    else if (off < 0)
      msg += std::to_string(-off) + " bytes before the start of " + describe(w);
    else
      msg += std::to_string(off - static_cast<long long>(f.size)) + " bytes past the end of " + describe(w);
    if (faults > 1) msg += " (and " + std::to_string(faults - 1) + " more faults)";
    // close every page the handler opened
    for (auto& kv : st.live) protect_guards(kv.second);
    for (const Alloc& q : st.quarantine) mprotect(q.map, q.map_len, PROT_NONE);
    g_fault_count = 0;
    return msg;
  }
  for (auto& kv : st.live) {
    std::string e = redzone_error(kv.second);
    if (!e.empty()) {
      fill_canary(kv.second.user - kFrontRedzone, kv.second.user);  // report once
      fill_canary(kv.second.user + kv.second.size, kv.second.map + kv.second.map_len - page_size());
      return std::string(after) + ": " + e;
    }
  }
  return "";
}

cudaError_t free_device(void* p, const char* call) {
  State& st = state();
  std::string err;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    auto it = st.live.find(reinterpret_cast<uintptr_t>(p));
    if (it != st.live.end() && (it->second.kind == MemKind::kDevice || it->second.kind == MemKind::kManaged)) {
      Alloc a = it->second;
      err = redzone_error(a);
      st.live.erase(it);
      quarantine(a);
    } else {
      err = "?";
    }
  }
  if (err == "?") {
    Where w = find_allocation(p);
    std::string at = hex(reinterpret_cast<uintptr_t>(p));
    if (w.found && w.freed) return fail(cudaErrorInvalidValue, std::string(call) + "(" + at + "): double free of " + describe(w));
    if (w.found) return fail(cudaErrorInvalidValue, std::string(call) + "(" + at + "): not the start of a device allocation (" + describe(w) + ")");
    return fail(cudaErrorInvalidValue, std::string(call) + "(" + at + "): not memory from cudaMalloc");
  }
  if (!err.empty()) return fail_sticky(cudaErrorIllegalAddress, std::string(call) + ": " + err);
  return cudaSuccess;
}

void release_graph_allocation(void* p) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  auto it = st.live.find(reinterpret_cast<uintptr_t>(p));
  if (it == st.live.end()) return;
  Alloc a = it->second;
  st.live.erase(it);
  quarantine(a);
}

void free_all_memory() {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  for (auto it = st.live.begin(); it != st.live.end();) {
    if (it->second.kind == MemKind::kDevice || it->second.kind == MemKind::kManaged) {
      quarantine(it->second);
      it = st.live.erase(it);
    } else {
      ++it;
    }
  }
  g_fault_count = 0;
}

// Marks a live allocation as owned by a graph (freed when the graph is destroyed).
void mark_graph_owned(void* p) {
  std::lock_guard<std::mutex> lock(state().mu);
  auto it = state().live.find(reinterpret_cast<uintptr_t>(p));
  if (it != state().live.end()) it->second.graph_owned = true;
}

}  // namespace nasnet_emu

using namespace nasnet_emu;

extern "C" {

cudaError_t cudaMalloc(void** devPtr, size_t size) {
  NASNET_EMU_ENTER();
  return allocate(devPtr, size, MemKind::kDevice, "cudaMalloc");
}

cudaError_t cudaMallocManaged(void** devPtr, size_t size, unsigned int) {
  NASNET_EMU_ENTER();
  return allocate(devPtr, size, MemKind::kManaged, "cudaMallocManaged");
}

cudaError_t cudaFree(void* devPtr) {
  NASNET_EMU_ENTER();
  if (cudaError_t e = capture_forbids("cudaFree", false); e != cudaSuccess) return e;
  if (devPtr == nullptr) return cudaSuccess;
  if (cudaError_t e = flush_all(); e != cudaSuccess) return e;  // cudaFree synchronizes the device
  return free_device(devPtr, "cudaFree");
}

cudaError_t cudaMallocAsync(void** devPtr, size_t size, cudaStream_t stream) {
  NASNET_EMU_ENTER();
  if (cudaError_t e = check_stream(stream, "cudaMallocAsync"); e != cudaSuccess) return e;
  cudaError_t e = allocate(devPtr, size, MemKind::kDevice, "cudaMallocAsync", true);
  if (e == cudaSuccess && *devPtr != nullptr && stream_is_capturing(stream)) {
    mark_graph_owned(*devPtr);
    capture_own_allocation(stream, *devPtr);
  }
  return e;
}

cudaError_t cudaFreeAsync(void* devPtr, cudaStream_t stream) {
  NASNET_EMU_ENTER();
  if (cudaError_t e = check_stream(stream, "cudaFreeAsync"); e != cudaSuccess) return e;
  if (devPtr == nullptr) return cudaSuccess;
  std::string bad = check_device_range(devPtr, 0);
  Where w = find_allocation(devPtr);
  if (!bad.empty() || w.user != devPtr)
    return fail(cudaErrorInvalidValue, "cudaFreeAsync: " + (bad.empty() ? describe(w) + " does not start at " +
                                                                              hex(reinterpret_cast<uintptr_t>(devPtr))
                                                                        : bad));
  if (stream_is_capturing(stream)) {
    bool owned = false;
    {
      std::lock_guard<std::mutex> lock(state().mu);
      auto it = state().live.find(reinterpret_cast<uintptr_t>(devPtr));
      owned = it != state().live.end() && it->second.graph_owned;
    }
    if (!owned)
      return fail(cudaErrorStreamCaptureUnsupported,
                  "cudaFreeAsync during capture of memory the captured graph did not allocate");
    return cudaSuccess;  // the graph owns it: released when the graph is destroyed
  }
  return enqueue(stream, Work{"cudaFreeAsync", [devPtr]() { return free_device(devPtr, "cudaFreeAsync"); }},
                 "cudaFreeAsync");
}

cudaError_t cudaMallocHost(void** ptr, size_t size) {
  NASNET_EMU_ENTER();
  return allocate(ptr, size, MemKind::kPinned, "cudaMallocHost");
}

cudaError_t cudaHostAlloc(void** pHost, size_t size, unsigned int) {
  NASNET_EMU_ENTER();
  return allocate(pHost, size, MemKind::kPinned, "cudaHostAlloc");
}

cudaError_t cudaFreeHost(void* ptr) {
  NASNET_EMU_ENTER();
  if (cudaError_t e = capture_forbids("cudaFreeHost", false); e != cudaSuccess) return e;
  if (ptr == nullptr) return cudaSuccess;
  if (cudaError_t e = flush_all(); e != cudaSuccess) return e;
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  auto it = st.live.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == st.live.end() || it->second.kind != MemKind::kPinned)
    return fail(cudaErrorInvalidValue, "cudaFreeHost(" + hex(reinterpret_cast<uintptr_t>(ptr)) +
                                           "): not memory from cudaMallocHost or cudaHostAlloc");
  Alloc a = it->second;
  st.live.erase(it);
  quarantine(a);
  return cudaSuccess;
}

cudaError_t cudaHostRegister(void* ptr, size_t size, unsigned int) {
  NASNET_EMU_ENTER();
  if (cudaError_t e = capture_forbids("cudaHostRegister", false); e != cudaSuccess) return e;
  if (ptr == nullptr || size == 0) return fail(cudaErrorInvalidValue, "cudaHostRegister: null pointer or zero size");
  if (find_allocation(ptr).found || find_allocation(static_cast<char*>(ptr) + size - 1).found)
    return fail(cudaErrorHostMemoryAlreadyRegistered, "cudaHostRegister: the range overlaps pinned or device memory");
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  Alloc a;
  a.id = st.next_id++;
  a.kind = MemKind::kRegistered;
  a.how = "cudaHostRegister";
  a.user = static_cast<char*>(ptr);
  a.size = size;
  st.live.emplace(reinterpret_cast<uintptr_t>(ptr), a);
  return cudaSuccess;
}

cudaError_t cudaHostUnregister(void* ptr) {
  NASNET_EMU_ENTER();
  if (cudaError_t e = flush_all(); e != cudaSuccess) return e;
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  auto it = st.live.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == st.live.end() || it->second.kind != MemKind::kRegistered)
    return fail(cudaErrorHostMemoryNotRegistered, "cudaHostUnregister(" + hex(reinterpret_cast<uintptr_t>(ptr)) +
                                                      "): not registered with cudaHostRegister");
  st.live.erase(it);
  return cudaSuccess;
}

cudaError_t cudaHostGetDevicePointer(void** pDevice, void* pHost, unsigned int) {
  NASNET_EMU_ENTER();
  Where w = find_allocation(pHost);
  if (!w.found || w.freed || (w.kind != MemKind::kPinned && w.kind != MemKind::kRegistered))
    return fail(cudaErrorInvalidValue, "cudaHostGetDevicePointer: not pinned host memory");
  *pDevice = pHost;  // unified addressing: the same address
  return cudaSuccess;
}

cudaError_t cudaPointerGetAttributes(struct cudaPointerAttributes* attr, const void* ptr) {
  NASNET_EMU_ENTER();
  if (attr == nullptr) return fail(cudaErrorInvalidValue, "cudaPointerGetAttributes: null attributes");
  Where w = find_allocation(ptr);
  attr->device = 0;
  attr->devicePointer = nullptr;
  attr->hostPointer = nullptr;
  attr->type = cudaMemoryTypeUnregistered;
  if (!w.found || w.freed) return cudaSuccess;
  void* p = const_cast<void*>(ptr);
  switch (w.kind) {
    case MemKind::kDevice: attr->type = cudaMemoryTypeDevice; attr->devicePointer = p; break;
    case MemKind::kManaged: attr->type = cudaMemoryTypeManaged; attr->devicePointer = attr->hostPointer = p; break;
    case MemKind::kPinned:
    case MemKind::kRegistered: attr->type = cudaMemoryTypeHost; attr->devicePointer = attr->hostPointer = p; break;
  }
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free, size_t* total) {
  NASNET_EMU_ENTER();
  size_t used = device_bytes_used(), limit = config().memory_limit;
  if (free != nullptr) *free = used < limit ? limit - used : 0;
  if (total != nullptr) *total = limit;
  return cudaSuccess;
}

}  // extern "C"
