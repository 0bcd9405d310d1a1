// Copies and fills on the emulated device, with the device's host-synchronization rules:
//   - cudaMemcpy waits for all earlier work, copies, and returns when done;
//   - cudaMemcpyAsync from pageable host memory takes a snapshot of the source at the call (the
//     device stages it); into pageable host memory it returns only when the copy is done;
//   - cudaMemcpyAsync to or from pinned memory (cudaMallocHost, cudaHostAlloc, cudaHostRegister)
//     reads or writes the host memory when the copy runs in stream order, as a DMA does;
//   - cudaMemset is stream-ordered on the legacy stream, cudaMemsetAsync on its stream.
// Every device range must lie inside one live allocation, and each side must be the kind of memory
// the copy kind says (cudaMemcpyDefault infers it): otherwise cudaErrorInvalidValue naming the
// allocation and by how many bytes the range overruns it, instead of a silent corruption.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "emu/internal.h"

namespace nasnet_emu {

namespace {

const char* kind_name(cudaMemcpyKind k) {
  switch (k) {
    case cudaMemcpyHostToHost: return "host to host";
    case cudaMemcpyHostToDevice: return "host to device";
    case cudaMemcpyDeviceToHost: return "device to host";
    case cudaMemcpyDeviceToDevice: return "device to device";
    case cudaMemcpyDefault: return "default";
  }
  return "?";
}

bool is_device(const void* p) {
  Where w = find_allocation(p);
  return w.found && !w.freed && (w.kind == MemKind::kDevice || w.kind == MemKind::kManaged);
}

struct Side {
  bool device;
  bool pinned;  // host memory the device can reach (read in stream order)
};

// Validates one side of a copy; returns "" or the reason.
std::string check_side(const void* p, size_t n, bool device, const char* which, Side* side) {
  side->device = device;
  side->pinned = false;
  std::string e = device ? check_device_range(p, n) : check_host_range(p, n, &side->pinned);
  return e.empty() ? "" : std::string(which) + " " + e;
}

cudaError_t copy(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t stream, bool async,
                 const char* call) {
  NASNET_EMU_ENTER();
  if (async)
    if (cudaError_t e = check_stream(stream, call); e != cudaSuccess) return e;
  if (count == 0) return cudaSuccess;
  if (dst == nullptr || src == nullptr) return fail(cudaErrorInvalidValue, std::string(call) + ": null pointer");
  if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault)
    return fail(cudaErrorInvalidMemcpyDirection, std::string(call) + ": kind " + std::to_string(kind));
  bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (kind == cudaMemcpyDefault) {
    dst_dev = is_device(dst);
    src_dev = is_device(src);
  }
  Side d, s;
  std::string bad = check_side(dst, count, dst_dev, "destination", &d);
  if (bad.empty()) bad = check_side(src, count, src_dev, "source", &s);
  if (!bad.empty())
    return fail(cudaErrorInvalidValue, std::string(call) + " (" + kind_name(kind) + ", " + std::to_string(count) +
                                           " bytes): " + bad);
  if (!async) {
    if (cudaError_t e = capture_forbids(call, true); e != cudaSuccess) return e;
    if (cudaError_t e = flush_all(); e != cudaSuccess) return e;
    std::memmove(dst, src, count);
    return cudaSuccess;
  }
  const bool pageable_src = !s.device && !s.pinned, pageable_dst = !d.device && !d.pinned;
  if ((pageable_src || pageable_dst) && stream_is_capturing(stream))
    return fail_capture(stream, cudaErrorStreamCaptureUnsupported,
                        std::string(call) + " with pageable host memory during capture (use cudaMallocHost)");
  Work w;
  w.what = call;
  if (pageable_src) {  // staged at the call
    auto staged = std::make_shared<std::vector<char>>(static_cast<const char*>(src), static_cast<const char*>(src) + count);
    w.run = [dst, staged]() {
      std::memcpy(dst, staged->data(), staged->size());
      return cudaSuccess;
    };
  } else {
    w.run = [dst, src, count]() {
      std::memmove(dst, src, count);
      return cudaSuccess;
    };
  }
  if (cudaError_t e = enqueue(stream, std::move(w), call); e != cudaSuccess) return e;
  return pageable_dst ? finish_stream(stream) : cudaSuccess;
}

cudaError_t copy_2d(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                    cudaMemcpyKind kind, cudaStream_t stream, bool async, const char* call) {
  NASNET_EMU_ENTER();
  if (width > dpitch || width > spitch)
    return fail(cudaErrorInvalidPitchValue, std::string(call) + ": width " + std::to_string(width) +
                                                " exceeds a pitch (" + std::to_string(dpitch) + ", " +
                                                std::to_string(spitch) + ")");
  for (size_t r = 0; r < height; ++r) {
    cudaError_t e = copy(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width, kind,
                         stream, async, call);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

cudaError_t fill(void* dst, int value, size_t count, cudaStream_t stream, const char* call) {
  NASNET_EMU_ENTER();
  if (cudaError_t e = check_stream(stream, call); e != cudaSuccess) return e;
  if (count == 0) return cudaSuccess;
  std::string bad = check_device_range(dst, count);
  if (!bad.empty()) return fail(cudaErrorInvalidValue, std::string(call) + " of " + std::to_string(count) + " bytes: " + bad);
  return enqueue(stream, Work{call, [dst, value, count]() {
                                std::memset(dst, value, count);
                                return cudaSuccess;
                              }},
                 call);
}

}  // namespace

}  // namespace nasnet_emu

using namespace nasnet_emu;

extern "C" {

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, enum cudaMemcpyKind kind) {
  return copy(dst, src, count, kind, nullptr, false, "cudaMemcpy");
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, enum cudaMemcpyKind kind, cudaStream_t stream) {
  return copy(dst, src, count, kind, stream, true, "cudaMemcpyAsync");
}
cudaError_t cudaMemcpy2D(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                         enum cudaMemcpyKind kind) {
  return copy_2d(dst, dpitch, src, spitch, width, height, kind, nullptr, false, "cudaMemcpy2D");
}
cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                              enum cudaMemcpyKind kind, cudaStream_t stream) {
  return copy_2d(dst, dpitch, src, spitch, width, height, kind, stream, true, "cudaMemcpy2DAsync");
}
cudaError_t cudaMemset(void* devPtr, int value, size_t count) { return fill(devPtr, value, count, nullptr, "cudaMemset"); }
cudaError_t cudaMemsetAsync(void* devPtr, int value, size_t count, cudaStream_t stream) {
  return fill(devPtr, value, count, stream, "cudaMemsetAsync");
}

}  // extern "C"
