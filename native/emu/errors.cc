// Errors of the emulated device: each host thread's last error (cudaGetLastError), the device's
// sticky error (a fault in a kernel: every later call returns it until cudaDeviceReset, as on a
// device), and the names and strings of the real runtime. cudaGetErrorString() appends the
// emulator's detail of the latest error with that code ("kernel relu_fwd, block (3,0,0), thread
// (17,0,0): 4-byte write 0 bytes past the end of ...") so a Status built from it says what happened.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "emu/internal.h"

namespace nasnet_emu {

namespace {

thread_local cudaError_t tl_last = cudaSuccess;
std::atomic<int> g_sticky{cudaSuccess};

struct Details {
  std::mutex mu;
  std::unordered_map<int, std::string*> latest;  // code -> "base string; emulated device: detail"
  std::vector<std::unique_ptr<std::string>> all;  // kept alive: callers may hold the pointers
};
Details& details() {
  static Details* d = new Details();  // never destroyed: strings may be read during exit
  return *d;
}

const char* base_string(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorCudartUnloading: return "driver shutting down";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidPitchValue: return "invalid pitch argument";
    case cudaErrorInvalidSymbol: return "invalid device symbol";
    case cudaErrorInvalidHostPointer: return "invalid host pointer";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorInvalidDeviceFunction: return "invalid device function";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidKernelImage: return "device kernel image is invalid";
    case cudaErrorNoKernelImageForDevice: return "no kernel image is available for execution on the device";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorIllegalState: return "the operation cannot be performed in the present state";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorLaunchTimeout: return "the launch timed out and was terminated";
    case cudaErrorAssert: return "device-side assert triggered";
    case cudaErrorHostMemoryAlreadyRegistered: return "part or all of the requested memory range is already mapped";
    case cudaErrorHostMemoryNotRegistered: return "pointer does not correspond to a registered memory region";
    case cudaErrorIllegalInstruction: return "an illegal instruction was encountered";
    case cudaErrorMisalignedAddress: return "misaligned address";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorNotPermitted: return "operation not permitted";
    case cudaErrorNotSupported: return "operation not supported";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureMerge: return "operation would result in a merge of separate capture sequences";
    case cudaErrorStreamCaptureUnmatched: return "capture was not ended in the same stream as it began";
    case cudaErrorStreamCaptureUnjoined: return "capturing stream has unjoined work";
    case cudaErrorStreamCaptureIsolation: return "dependency created on uncaptured work in another stream";
    case cudaErrorStreamCaptureImplicit:
      return "operation would make the legacy stream depend on a capturing blocking stream";
    case cudaErrorCapturedEvent: return "operation not permitted on an event last recorded in a capturing stream";
    case cudaErrorStreamCaptureWrongThread:
      return "attempt to terminate a thread-local capture sequence from another thread";
    case cudaErrorUnknown: return "unknown error";
  }
  return "unrecognized error code";
}

void set_detail(cudaError_t err, const std::string& detail) {
  Details& d = details();
  std::lock_guard<std::mutex> lock(d.mu);
  if (detail.empty()) {
    if (err != g_sticky.load()) d.latest.erase(err);  // a repeated sticky error keeps its detail
    return;
  }
  d.all.push_back(std::make_unique<std::string>(std::string(base_string(err)) + "; emulated device: " + detail));
  d.latest[err] = d.all.back().get();
  if (std::getenv("NASNET_EMU_VERBOSE") != nullptr) std::fprintf(stderr, "nasnet emu: %s\n", d.all.back()->c_str());
}

}  // namespace

cudaError_t fail(cudaError_t err, const std::string& detail) {
  if (err == cudaSuccess) return err;
  set_detail(err, detail);
  tl_last = err;
  return err;
}

cudaError_t fail_sticky(cudaError_t err, const std::string& detail) {
  int expected = cudaSuccess;
  if (g_sticky.compare_exchange_strong(expected, err)) set_detail(err, detail);
  tl_last = static_cast<cudaError_t>(g_sticky.load());
  return tl_last;
}

cudaError_t sticky_error() { return static_cast<cudaError_t>(g_sticky.load()); }

void clear_errors() {
  g_sticky = cudaSuccess;
  tl_last = cudaSuccess;
  Details& d = details();
  std::lock_guard<std::mutex> lock(d.mu);
  d.latest.clear();
}

}  // namespace nasnet_emu

using namespace nasnet_emu;

extern "C" {

cudaError_t cudaGetLastError(void) {
  cudaError_t s = sticky_error();
  if (s != cudaSuccess) return s;
  cudaError_t e = tl_last;
  tl_last = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError(void) {
  cudaError_t s = sticky_error();
  return s != cudaSuccess ? s : tl_last;
}

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
#define NASNET_EMU_NAME(x) \
  case x:                  \
    return #x;
    NASNET_EMU_NAME(cudaSuccess)
    NASNET_EMU_NAME(cudaErrorInvalidValue)
    NASNET_EMU_NAME(cudaErrorMemoryAllocation)
    NASNET_EMU_NAME(cudaErrorInitializationError)
    NASNET_EMU_NAME(cudaErrorCudartUnloading)
    NASNET_EMU_NAME(cudaErrorInvalidConfiguration)
    NASNET_EMU_NAME(cudaErrorInvalidPitchValue)
    NASNET_EMU_NAME(cudaErrorInvalidSymbol)
    NASNET_EMU_NAME(cudaErrorInvalidHostPointer)
    NASNET_EMU_NAME(cudaErrorInvalidDevicePointer)
    NASNET_EMU_NAME(cudaErrorInvalidMemcpyDirection)
    NASNET_EMU_NAME(cudaErrorInsufficientDriver)
    NASNET_EMU_NAME(cudaErrorInvalidDeviceFunction)
    NASNET_EMU_NAME(cudaErrorNoDevice)
    NASNET_EMU_NAME(cudaErrorInvalidDevice)
    NASNET_EMU_NAME(cudaErrorInvalidKernelImage)
    NASNET_EMU_NAME(cudaErrorNoKernelImageForDevice)
    NASNET_EMU_NAME(cudaErrorInvalidResourceHandle)
    NASNET_EMU_NAME(cudaErrorIllegalState)
    NASNET_EMU_NAME(cudaErrorNotReady)
    NASNET_EMU_NAME(cudaErrorIllegalAddress)
    NASNET_EMU_NAME(cudaErrorLaunchOutOfResources)
    NASNET_EMU_NAME(cudaErrorLaunchTimeout)
    NASNET_EMU_NAME(cudaErrorAssert)
    NASNET_EMU_NAME(cudaErrorHostMemoryAlreadyRegistered)
    NASNET_EMU_NAME(cudaErrorHostMemoryNotRegistered)
    NASNET_EMU_NAME(cudaErrorIllegalInstruction)
    NASNET_EMU_NAME(cudaErrorMisalignedAddress)
    NASNET_EMU_NAME(cudaErrorLaunchFailure)
    NASNET_EMU_NAME(cudaErrorNotPermitted)
    NASNET_EMU_NAME(cudaErrorNotSupported)
    NASNET_EMU_NAME(cudaErrorStreamCaptureUnsupported)
    NASNET_EMU_NAME(cudaErrorStreamCaptureInvalidated)
    NASNET_EMU_NAME(cudaErrorStreamCaptureMerge)
    NASNET_EMU_NAME(cudaErrorStreamCaptureUnmatched)
    NASNET_EMU_NAME(cudaErrorStreamCaptureUnjoined)
    NASNET_EMU_NAME(cudaErrorStreamCaptureIsolation)
    NASNET_EMU_NAME(cudaErrorStreamCaptureImplicit)
    NASNET_EMU_NAME(cudaErrorCapturedEvent)
    NASNET_EMU_NAME(cudaErrorStreamCaptureWrongThread)
    NASNET_EMU_NAME(cudaErrorUnknown)
#undef NASNET_EMU_NAME
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t e) {
  Details& d = details();
  std::lock_guard<std::mutex> lock(d.mu);
  auto it = d.latest.find(e);
  return it != d.latest.end() ? it->second->c_str() : base_string(e);
}

}  // extern "C"
