// Streams, events, stream capture and graphs of the emulated device.
//
// Work is deferred, as on a device: a launch, copy or memset is queued on its stream and runs only
// when something waits for it (cudaStreamSynchronize, cudaEventSynchronize or Query, a synchronous
// copy, cudaDeviceSynchronize, cudaFree, a stream that waits on an event, ...). So a host that
// reads a result without synchronizing reads what was there before, and a pinned buffer written
// after cudaMemcpyAsync but before the copy ran is what the copy sees, as on a device.
// Ordering: each stream runs in order; cudaStreamWaitEvent makes a stream's later work wait for the
// event's point in another stream; the legacy default stream (nullptr) waits for all blocking
// streams and they for it; cudaStreamNonBlocking streams do not.
//
// Capture (cudaStreamBeginCapture ... EndCapture) records work instead of queueing it; streams join
// a capture by waiting on an event recorded in it and must be joined back before it ends. What a
// device forbids during capture fails the same way here (and invalidates the capture): synchronizing
// a capturing stream or the device, the legacy stream while a blocking stream captures, cudaMalloc /
// cudaFree in global mode, a copy from pageable memory. A graph replays its nodes in capture order
// with the captured arguments; copies from pinned memory read it when the replay runs.
#include <chrono>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "emu/internal.h"

struct CUstream_st {
  uint64_t id;
  unsigned flags;
  bool legacy;
};
struct CUevent_st {
  unsigned flags;
};
struct CUgraph_st {};
struct CUgraphExec_st {};

namespace nasnet_emu {

namespace {

struct Capture;

struct Op {
  uint64_t seq;
  Work work;
  std::vector<std::pair<uint64_t, uint64_t>> deps;  // (stream id, seq) to run first
};

struct Stream : CUstream_st {
  std::deque<Op> queue;
  uint64_t last_seq = 0;                 // the latest op enqueued
  Capture* capture = nullptr;
  long cap_last = -1;                    // index of this stream's latest node in its capture
  std::map<const Stream*, long> covers;  // in a capture: the latest node of each stream this one follows
};

struct EventState {
  bool recorded = false;
  uint64_t stream_id = 0, seq = 0, generation = 0;
  bool done = false;
  std::chrono::steady_clock::time_point when;
  uint64_t capture_id = 0;     // last recorded in this capture (0: outside any)
  const Stream* cap_stream = nullptr;
  long cap_node = -1;
  std::map<const Stream*, long> covers;
};
struct Event : CUevent_st {
  std::shared_ptr<EventState> s = std::make_shared<EventState>();
};

struct GraphBody {
  std::vector<Work> nodes;
  std::vector<void*> allocations;  // cudaMallocAsync during the capture: live as long as the graph
  ~GraphBody() {
    for (void* p : allocations) release_graph_allocation(p);
  }
};
struct Graph : CUgraph_st {
  std::shared_ptr<GraphBody> body;
};
struct Exec : CUgraphExec_st {
  std::shared_ptr<GraphBody> body;
};

struct Capture {
  uint64_t id;
  cudaStreamCaptureMode mode;
  std::thread::id thread;
  Stream* origin;
  std::vector<Stream*> streams;
  std::shared_ptr<GraphBody> body = std::make_shared<GraphBody>();
  bool invalidated = false;
  std::string why;
};

struct Registry {
  std::recursive_mutex mu;
  uint64_t next_seq = 1, next_stream = 2, next_capture = 1;
  Stream legacy;
  std::map<uint64_t, std::unique_ptr<Stream>> streams;  // created streams and per-thread ones
  std::set<const Event*> events;
  std::set<const Graph*> graphs;
  std::set<const Exec*> execs;
  std::set<Capture*> captures;
  Registry() {
    legacy.id = 1;
    legacy.flags = cudaStreamDefault;
    legacy.legacy = true;
  }
};
Registry& reg() {
  static Registry* r = new Registry();  // never destroyed: work may be flushed during exit
  return *r;
}

thread_local uint64_t tl_per_thread = 0;  // this host thread's cudaStreamPerThread (its id)
thread_local cudaStreamCaptureMode tl_mode = cudaStreamCaptureModeGlobal;

std::string hex(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%p", p);
  return buf;
}

// The stream behind a handle (reg().mu held), or nullptr for a handle that is not a live stream.
Stream* resolve(cudaStream_t h) {
  Registry& r = reg();
  if (h == nullptr || h == cudaStreamLegacy) return &r.legacy;
  if (h == cudaStreamPerThread) {
    auto it = r.streams.find(tl_per_thread);
    if (it != r.streams.end()) return it->second.get();
    auto s = std::make_unique<Stream>();
    s->id = tl_per_thread = r.next_stream++;
    s->flags = cudaStreamDefault;
    s->legacy = false;
    Stream* raw = s.get();
    r.streams.emplace(raw->id, std::move(s));
    return raw;
  }
  for (auto& kv : r.streams)
    if (static_cast<CUstream_st*>(kv.second.get()) == h) return kv.second.get();
  return nullptr;
}

Stream* find_id(uint64_t id) {
  Registry& r = reg();
  if (id == r.legacy.id) return &r.legacy;
  auto it = r.streams.find(id);
  return it == r.streams.end() ? nullptr : it->second.get();
}

bool blocking(const Stream* s) { return !s->legacy && !(s->flags & cudaStreamNonBlocking); }

cudaError_t run_work(const Work& w) {
  cudaError_t sticky = sticky_error();
  if (sticky != cudaSuccess) return sticky;
  const char* previous = set_activity(w.what.c_str());
  cudaError_t e = w.run();
  std::string m = check_memory(w.what.c_str());
  set_activity(previous);
  if (!m.empty()) return fail_sticky(cudaErrorIllegalAddress, m);
  if (e != cudaSuccess) return fail_sticky(e, "");
  return cudaSuccess;
}

void drop_all_work() {
  Registry& r = reg();
  r.legacy.queue.clear();
  for (auto& kv : r.streams) kv.second->queue.clear();
}

// Runs s's work up to and including `upto` (reg().mu held), first what each op waits for.
cudaError_t flush(Stream* s, uint64_t upto) {
  while (!s->queue.empty() && s->queue.front().seq <= upto) {
    Op op = std::move(s->queue.front());
    s->queue.pop_front();
    for (const auto& d : op.deps) {
      Stream* o = find_id(d.first);
      if (o == nullptr) continue;
      if (cudaError_t e = flush(o, d.second); e != cudaSuccess) return e;
    }
    if (cudaError_t e = run_work(op.work); e != cudaSuccess) {
      drop_all_work();  // a faulted device runs nothing more
      return e;
    }
  }
  return cudaSuccess;
}

void invalidate(Capture* c, const std::string& why) {
  if (c->invalidated) return;
  c->invalidated = true;
  c->why = why;
}

cudaError_t capture_failed(Capture* c, cudaError_t err, const std::string& why) {
  invalidate(c, why);
  return fail(err, why);
}

Capture* live_capture(uint64_t id) {
  if (id == 0) return nullptr;
  for (Capture* c : reg().captures)
    if (c->id == id) return c;
  return nullptr;  // ended: its records became graph dependencies, the event itself was not recorded
}

void merge_covers(std::map<const Stream*, long>& into, const std::map<const Stream*, long>& from) {
  for (const auto& kv : from) {
    long& v = into[kv.first];
    if (kv.second > v) v = kv.second;
  }
}

void end_capture_membership(Capture* c) {
  for (Stream* s : c->streams) {
    s->capture = nullptr;
    s->cap_last = -1;
    s->covers.clear();
  }
  reg().captures.erase(c);
}

}  // namespace

// ---- internal API (internal.h) --------------------------------------------------------------------
cudaError_t check_stream(cudaStream_t stream, const char* call) {
  std::lock_guard<std::recursive_mutex> lock(reg().mu);
  if (resolve(stream) == nullptr)
    return fail(cudaErrorInvalidResourceHandle, std::string(call) + ": stream " + hex(stream) + " is not a live stream");
  return cudaSuccess;
}

cudaError_t enqueue(cudaStream_t stream, Work w, const char* call) {
  Registry& r = reg();
  std::lock_guard<std::recursive_mutex> lock(r.mu);
  Stream* s = resolve(stream);
  if (s == nullptr)
    return fail(cudaErrorInvalidResourceHandle, std::string(call) + ": stream " + hex(stream) + " is not a live stream");
  if (s->capture != nullptr) {
    Capture* c = s->capture;
    if (c->invalidated)
      return fail(cudaErrorStreamCaptureInvalidated, std::string(call) + ": the capture was invalidated: " + c->why);
    c->body->nodes.push_back(std::move(w));
    s->cap_last = static_cast<long>(c->body->nodes.size()) - 1;
    return cudaSuccess;
  }
  Op op{r.next_seq++, std::move(w), {}};
  if (s->legacy) {
    for (Capture* c : r.captures)
      for (Stream* cs : c->streams)
        if (blocking(cs))
          return capture_failed(c, cudaErrorStreamCaptureImplicit,
                                std::string(call) + " on the legacy default stream while blocking stream " +
                                    hex(cs) + " is capturing (use a capturing or non-blocking stream)");
    for (auto& kv : r.streams)
      if (blocking(kv.second.get()) && !kv.second->queue.empty())
        op.deps.emplace_back(kv.first, kv.second->last_seq);
  } else if (blocking(s) && !r.legacy.queue.empty()) {
    op.deps.emplace_back(r.legacy.id, r.legacy.last_seq);
  }
  s->last_seq = op.seq;
  s->queue.push_back(std::move(op));
  return cudaSuccess;
}

cudaError_t finish_stream(cudaStream_t stream) {
  Registry& r = reg();
  std::lock_guard<std::recursive_mutex> lock(r.mu);
  Stream* s = resolve(stream);
  if (s == nullptr) return cudaErrorInvalidResourceHandle;
  return flush(s, s->last_seq);
}

cudaError_t flush_all() {
  Registry& r = reg();
  std::lock_guard<std::recursive_mutex> lock(r.mu);
  if (cudaError_t e = flush(&r.legacy, r.legacy.last_seq); e != cudaSuccess) return e;
  for (auto& kv : r.streams)
    if (cudaError_t e = flush(kv.second.get(), kv.second->last_seq); e != cudaSuccess) return e;
  return sticky_error();
}

cudaError_t capture_forbids(const char* call, bool uses_legacy_stream) {
  Registry& r = reg();
  std::lock_guard<std::recursive_mutex> lock(r.mu);
  const std::thread::id me = std::this_thread::get_id();
  for (Capture* c : r.captures) {
    if (c->invalidated) continue;
    if (uses_legacy_stream)
      for (Stream* cs : c->streams)
        if (blocking(cs))
          return capture_failed(c, cudaErrorStreamCaptureImplicit,
                                std::string(call) + " uses the legacy default stream while blocking stream " +
                                    hex(cs) + " is capturing");
    bool prohibited = false;
    if (tl_mode == cudaStreamCaptureModeGlobal)
      prohibited = c->mode == cudaStreamCaptureModeGlobal || (c->thread == me && c->mode != cudaStreamCaptureModeRelaxed);
    else if (tl_mode == cudaStreamCaptureModeThreadLocal)
      prohibited = c->thread == me && c->mode != cudaStreamCaptureModeRelaxed;
    if (prohibited)
      return capture_failed(c, cudaErrorStreamCaptureUnsupported,
                            std::string(call) + " is not permitted while stream " + hex(c->origin) +
                                " is capturing (mode " + (c->mode == cudaStreamCaptureModeGlobal ? "global" : "thread-local") +
                                ")");
  }
  return cudaSuccess;
}

bool stream_is_capturing(cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> lock(reg().mu);
  Stream* s = resolve(stream);
  return s != nullptr && s->capture != nullptr;
}

cudaError_t fail_capture(cudaStream_t stream, cudaError_t err, const std::string& why) {
  std::lock_guard<std::recursive_mutex> lock(reg().mu);
  Stream* s = resolve(stream);
  if (s != nullptr && s->capture != nullptr) invalidate(s->capture, why);
  return fail(err, why);
}

void capture_own_allocation(cudaStream_t stream, void* p) {
  std::lock_guard<std::recursive_mutex> lock(reg().mu);
  Stream* s = resolve(stream);
  if (s != nullptr && s->capture != nullptr) s->capture->body->allocations.push_back(p);
}

void reset_streams() {
  Registry& r = reg();
  std::lock_guard<std::recursive_mutex> lock(r.mu);
  drop_all_work();
  for (Capture* c : r.captures) {
    for (Stream* s : c->streams) s->capture = nullptr;
    delete c;
  }
  r.captures.clear();
  r.streams.clear();  // every handle is invalid after a reset, as on a device
  r.events.clear();
  r.graphs.clear();
  r.execs.clear();
}

}  // namespace nasnet_emu

using namespace nasnet_emu;

namespace {

Event* live_event(cudaEvent_t e) {
  const Event* ev = static_cast<const Event*>(e);
  return reg().events.count(ev) ? const_cast<Event*>(ev) : nullptr;
}

cudaError_t bad_handle(const char* call, const char* what, const void* h) {
  return fail(cudaErrorInvalidResourceHandle, std::string(call) + ": " + what + " " + hex(h) + " is not live");
}

}  // namespace

extern "C" {

// ---- streams
cudaError_t cudaStreamCreateWithPriority(cudaStream_t* pStream, unsigned int flags, int) {
  NASNET_EMU_ENTER();
  if (pStream == nullptr) return fail(cudaErrorInvalidValue, "cudaStreamCreate: null result pointer");
  Registry& r = reg();
  std::lock_guard<std::recursive_mutex> lock(r.mu);
  auto s = std::make_unique<Stream>();
  s->id = r.next_stream++;
  s->flags = flags;
  s->legacy = false;
  *pStream = s.get();
  r.streams.emplace(s->id, std::move(s));
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* pStream, unsigned int flags) {
  return cudaStreamCreateWithPriority(pStream, flags, 0);
}
cudaError_t cudaStreamCreate(cudaStream_t* pStream) { return cudaStreamCreateWithPriority(pStream, 0, 0); }

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  NASNET_EMU_ENTER();
  Registry& r = reg();
  std::lock_guard<std::recursive_mutex> lock(r.mu);
  Stream* s = resolve(stream);
  if (s == nullptr || s->legacy || s->id == tl_per_thread) return bad_handle("cudaStreamDestroy", "stream", stream);
  if (s->capture != nullptr)
    return capture_failed(s->capture, cudaErrorIllegalState, "cudaStreamDestroy of a capturing stream");
  if (cudaError_t e = flush(s, s->last_seq); e != cudaSuccess) return e;  // its work completes first
  r.streams.erase(s->id);
  return cudaSuccess;
}

cudaError_t cudaStreamGetFlags(cudaStream_t stream, unsigned int* flags) {
  NASNET_EMU_ENTER();
  std::lock_guard<std::recursive_mutex> lock(reg().mu);
  Stream* s = resolve(stream);
  if (s == nullptr) return bad_handle("cudaStreamGetFlags", "stream", stream);
  *flags = s->flags;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  NASNET_EMU_ENTER();
  Registry& r = reg();
  std::lock_guard<std::recursive_mutex> lock(r.mu);
  Stream* s = resolve(stream);
  if (s == nullptr) return bad_handle("cudaStreamSynchronize", "stream", stream);
  if (s->capture != nullptr)
    return capture_failed(s->capture, cudaErrorStreamCaptureUnsupported, "cudaStreamSynchronize of a capturing stream");
  if (s->legacy) {
    if (cudaError_t e = capture_forbids("cudaStreamSynchronize(legacy stream)", true); e != cudaSuccess) return e;
  }
  return flush(s, s->last_seq);
}

cudaError_t cudaStreamQuery(cudaStream_t stream) {
  NASNET_EMU_ENTER();
  Registry& r = reg();
  std::lock_guard<std::recursive_mutex> lock(r.mu);
  Stream* s = resolve(stream);
  if (s == nullptr) return bad_handle("cudaStreamQuery", "stream", stream);
  if (s->capture != nullptr)
    return capture_failed(s->capture, cudaErrorStreamCaptureUnsupported, "cudaStreamQuery of a capturing stream");
  return flush(s, s->last_seq);  // the emulated device finishes what it is asked about
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int) {
  NASNET_EMU_ENTER();
  Registry& r = reg();
  std::lock_guard<std::recursive_mutex> lock(r.mu);
  Stream* s = resolve(stream);
  if (s == nullptr) return bad_handle("cudaStreamWaitEvent", "stream", stream);
  Event* e = live_event(event);
  if (e == nullptr) return bad_handle("cudaStreamWaitEvent", "event", event);
  EventState& es = *e->s;
  if (!es.recorded) return cudaSuccess;
  if (es.capture_id != 0) {
    Capture* c = live_capture(es.capture_id);
    if (c == nullptr) return cudaSuccess;
    if (s->capture != nullptr && s->capture != c)
      return capture_failed(c, cudaErrorStreamCaptureMerge, "cudaStreamWaitEvent joins two capture sequences");
    if (s->capture == nullptr) {  // s joins the capture (fork)
      if (s->legacy)
        return capture_failed(c, cudaErrorStreamCaptureImplicit, "the legacy stream cannot join a capture");
      s->capture = c;
      s->cap_last = -1;
      s->covers.clear();
      c->streams.push_back(s);
    }
    merge_covers(s->covers, es.covers);
    long& v = s->covers[es.cap_stream];
    if (es.cap_node > v) v = es.cap_node;
    return cudaSuccess;
  }
  if (s->capture != nullptr)
    return capture_failed(s->capture, cudaErrorStreamCaptureIsolation,
                          "cudaStreamWaitEvent: a capturing stream waits on an event recorded outside the capture");
  uint64_t stream_id = es.stream_id, seq = es.seq;
  return enqueue(stream, Work{"cudaStreamWaitEvent", [stream_id, seq]() {
                                std::lock_guard<std::recursive_mutex> inner(reg().mu);
                                Stream* o = find_id(stream_id);
                                return o != nullptr ? flush(o, seq) : cudaSuccess;
                              }},
                 "cudaStreamWaitEvent");
}

cudaError_t cudaLaunchHostFunc(cudaStream_t stream, cudaHostFn_t fn, void* userData) {
  NASNET_EMU_ENTER();
  if (fn == nullptr) return fail(cudaErrorInvalidValue, "cudaLaunchHostFunc: null function");
  return enqueue(stream, Work{"cudaLaunchHostFunc", [fn, userData]() {
                                fn(userData);
                                return cudaSuccess;
                              }},
                 "cudaLaunchHostFunc");
}

// ---- events
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags) {
  NASNET_EMU_ENTER();
  if (event == nullptr) return fail(cudaErrorInvalidValue, "cudaEventCreate: null result pointer");
  std::lock_guard<std::recursive_mutex> lock(reg().mu);
  Event* e = new Event();
  e->flags = flags;
  reg().events.insert(e);
  *event = e;
  return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, 0); }

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  NASNET_EMU_ENTER();
  std::lock_guard<std::recursive_mutex> lock(reg().mu);
  Event* e = live_event(event);
  if (e == nullptr) return bad_handle("cudaEventDestroy", "event", event);
  reg().events.erase(e);
  delete e;  // pending records hold the state, not the handle
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  NASNET_EMU_ENTER();
  Registry& r = reg();
  std::lock_guard<std::recursive_mutex> lock(r.mu);
  Event* e = live_event(event);
  if (e == nullptr) return bad_handle("cudaEventRecord", "event", event);
  Stream* s = resolve(stream);
  if (s == nullptr) return bad_handle("cudaEventRecord", "stream", stream);
  std::shared_ptr<EventState> es = e->s;
  if (s->capture != nullptr) {  // a point in the capture, for other streams to wait on
    if (s->capture->invalidated)
      return fail(cudaErrorStreamCaptureInvalidated, "cudaEventRecord: the capture was invalidated: " + s->capture->why);
    es->recorded = true;
    es->capture_id = s->capture->id;
    es->cap_stream = s;
    es->cap_node = s->cap_last;
    es->covers = s->covers;
    return cudaSuccess;
  }
  uint64_t gen = ++es->generation;
  cudaError_t err = enqueue(stream, Work{"cudaEventRecord", [es, gen]() {
                                          if (es->generation == gen) {
                                            es->done = true;
                                            es->when = std::chrono::steady_clock::now();
                                          }
                                          return cudaSuccess;
                                        }},
                            "cudaEventRecord");
  if (err != cudaSuccess) return err;
  es->recorded = true;
  es->capture_id = 0;
  es->done = false;
  es->stream_id = s->id;
  es->seq = s->last_seq;
  return cudaSuccess;
}

static cudaError_t event_wait(cudaEvent_t event, const char* call) {
  NASNET_EMU_ENTER();
  Registry& r = reg();
  std::lock_guard<std::recursive_mutex> lock(r.mu);
  Event* e = live_event(event);
  if (e == nullptr) return bad_handle(call, "event", event);
  EventState& es = *e->s;
  if (!es.recorded) return cudaSuccess;
  if (Capture* c = live_capture(es.capture_id); c != nullptr)
    return capture_failed(c, cudaErrorCapturedEvent,
                          std::string(call) + " of an event last recorded in a capturing stream");
  Stream* s = find_id(es.stream_id);
  if (s != nullptr)
    if (cudaError_t err = flush(s, es.seq); err != cudaSuccess) return err;
  return sticky_error();
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) { return event_wait(event, "cudaEventSynchronize"); }
cudaError_t cudaEventQuery(cudaEvent_t event) { return event_wait(event, "cudaEventQuery"); }

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  NASNET_EMU_ENTER();
  std::lock_guard<std::recursive_mutex> lock(reg().mu);
  Event* a = live_event(start);
  Event* b = live_event(end);
  if (a == nullptr || b == nullptr) return bad_handle("cudaEventElapsedTime", "event", a == nullptr ? start : end);
  if (ms == nullptr) return fail(cudaErrorInvalidValue, "cudaEventElapsedTime: null result pointer");
  if ((a->flags | b->flags) & cudaEventDisableTiming)
    return fail(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: an event was created with cudaEventDisableTiming");
  if (!a->s->recorded || !b->s->recorded)
    return fail(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: an event was never recorded");
  if (!a->s->done || !b->s->done)
    return fail(cudaErrorNotReady, "cudaEventElapsedTime: an event has not completed (synchronize on it first)");
  *ms = std::chrono::duration<float, std::milli>(b->s->when - a->s->when).count();
  return cudaSuccess;
}

// ---- capture and graphs
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, enum cudaStreamCaptureMode mode) {
  NASNET_EMU_ENTER();
  Registry& r = reg();
  std::lock_guard<std::recursive_mutex> lock(r.mu);
  Stream* s = resolve(stream);
  if (s == nullptr) return bad_handle("cudaStreamBeginCapture", "stream", stream);
  if (s->legacy)
    return fail(cudaErrorStreamCaptureUnsupported, "cudaStreamBeginCapture: the legacy default stream cannot be captured");
  if (s->capture != nullptr) return fail(cudaErrorIllegalState, "cudaStreamBeginCapture: the stream is already capturing");
  Capture* c = new Capture();
  c->id = r.next_capture++;
  c->mode = mode;
  c->thread = std::this_thread::get_id();
  c->origin = s;
  c->streams.push_back(s);
  s->capture = c;
  s->cap_last = -1;
  s->covers.clear();
  r.captures.insert(c);
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* pGraph) {
  NASNET_EMU_ENTER();
  Registry& r = reg();
  std::lock_guard<std::recursive_mutex> lock(r.mu);
  if (pGraph != nullptr) *pGraph = nullptr;
  Stream* s = resolve(stream);
  if (s == nullptr) return bad_handle("cudaStreamEndCapture", "stream", stream);
  Capture* c = s->capture;
  if (c == nullptr) return fail(cudaErrorIllegalState, "cudaStreamEndCapture: the stream is not capturing");
  if (c->origin != s)
    return capture_failed(c, cudaErrorStreamCaptureUnmatched,
                          "cudaStreamEndCapture on a stream that joined the capture, not the one that began it");
  if (c->mode != cudaStreamCaptureModeRelaxed && c->thread != std::this_thread::get_id())
    return fail(cudaErrorStreamCaptureWrongThread, "cudaStreamEndCapture from another thread than the one that began it");
  std::string unjoined;
  for (Stream* t : c->streams) {
    if (t == s || t->cap_last < 0) continue;
    auto it = s->covers.find(t);
    if (it == s->covers.end() || it->second < t->cap_last)
      unjoined = "cudaStreamEndCapture: stream " + hex(t) + " has captured work the origin stream never waited on "
                 "(record an event on it and cudaStreamWaitEvent the origin stream)";
  }
  std::unique_ptr<Capture> owned(c);
  end_capture_membership(c);
  if (c->invalidated) return fail(cudaErrorStreamCaptureInvalidated, "cudaStreamEndCapture: " + c->why);
  if (!unjoined.empty()) return fail(cudaErrorStreamCaptureUnjoined, unjoined);
  if (pGraph == nullptr) return fail(cudaErrorInvalidValue, "cudaStreamEndCapture: null result pointer");
  Graph* g = new Graph();
  g->body = c->body;
  r.graphs.insert(g);
  *pGraph = g;
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, enum cudaStreamCaptureStatus* status) {
  NASNET_EMU_ENTER();
  std::lock_guard<std::recursive_mutex> lock(reg().mu);
  Stream* s = resolve(stream);
  if (s == nullptr) return bad_handle("cudaStreamIsCapturing", "stream", stream);
  if (status == nullptr) return fail(cudaErrorInvalidValue, "cudaStreamIsCapturing: null result pointer");
  *status = s->capture == nullptr ? cudaStreamCaptureStatusNone
            : s->capture->invalidated ? cudaStreamCaptureStatusInvalidated
                                      : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}

cudaError_t cudaThreadExchangeStreamCaptureMode(enum cudaStreamCaptureMode* mode) {
  if (mode == nullptr) return fail(cudaErrorInvalidValue, "cudaThreadExchangeStreamCaptureMode: null mode");
  cudaStreamCaptureMode old = tl_mode;
  tl_mode = *mode;
  *mode = old;
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* pGraphExec, cudaGraph_t graph, unsigned long long) {
  NASNET_EMU_ENTER();
  std::lock_guard<std::recursive_mutex> lock(reg().mu);
  const Graph* g = static_cast<const Graph*>(graph);
  if (!reg().graphs.count(g)) return bad_handle("cudaGraphInstantiate", "graph", graph);
  if (pGraphExec == nullptr) return fail(cudaErrorInvalidValue, "cudaGraphInstantiate: null result pointer");
  Exec* x = new Exec();
  x->body = g->body;
  reg().execs.insert(x);
  *pGraphExec = x;
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t* pGraphExec, cudaGraph_t graph, unsigned long long flags) {
  return cudaGraphInstantiate(pGraphExec, graph, flags);
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t graphExec, cudaStream_t stream) {
  NASNET_EMU_ENTER();
  std::shared_ptr<GraphBody> body;
  {
    std::lock_guard<std::recursive_mutex> lock(reg().mu);
    const Exec* x = static_cast<const Exec*>(graphExec);
    if (!reg().execs.count(x)) return bad_handle("cudaGraphLaunch", "graph exec", graphExec);
    body = x->body;
  }
  return enqueue(stream, Work{"cudaGraphLaunch", [body]() {
                                for (const Work& node : body->nodes)
                                  if (cudaError_t e = run_work(node); e != cudaSuccess) return e;
                                return cudaSuccess;
                              }},
                 "cudaGraphLaunch");
}

cudaError_t cudaGraphUpload(cudaGraphExec_t graphExec, cudaStream_t stream) {
  NASNET_EMU_ENTER();
  std::lock_guard<std::recursive_mutex> lock(reg().mu);
  if (!reg().execs.count(static_cast<const Exec*>(graphExec))) return bad_handle("cudaGraphUpload", "graph exec", graphExec);
  return check_stream(stream, "cudaGraphUpload");
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t graphExec) {
  NASNET_EMU_ENTER();
  std::lock_guard<std::recursive_mutex> lock(reg().mu);
  const Exec* x = static_cast<const Exec*>(graphExec);
  if (!reg().execs.erase(x)) return bad_handle("cudaGraphExecDestroy", "graph exec", graphExec);
  delete x;  // a launch still queued keeps the graph's body alive
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  NASNET_EMU_ENTER();
  std::lock_guard<std::recursive_mutex> lock(reg().mu);
  const Graph* g = static_cast<const Graph*>(graph);
  if (!reg().graphs.erase(g)) return bad_handle("cudaGraphDestroy", "graph", graph);
  delete g;
  return cudaSuccess;
}

cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, size_t* numNodes) {
  NASNET_EMU_ENTER();
  std::lock_guard<std::recursive_mutex> lock(reg().mu);
  const Graph* g = static_cast<const Graph*>(graph);
  if (!reg().graphs.count(g)) return bad_handle("cudaGraphGetNodes", "graph", graph);
  if (numNodes == nullptr) return fail(cudaErrorInvalidValue, "cudaGraphGetNodes: null count");
  size_t n = g->body->nodes.size();
  if (nodes != nullptr) {
    size_t k = *numNodes < n ? *numNodes : n;
    for (size_t i = 0; i < k; ++i) nodes[i] = reinterpret_cast<cudaGraphNode_t>(const_cast<Work*>(&g->body->nodes[i]));
  }
  *numNodes = n;
  return cudaSuccess;
}

}  // extern "C"
