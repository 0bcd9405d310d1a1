// Finds and loads cuDNN at run time (dlopen), so one build serves machines with and without it.
// Search order: $CUDNN_PATH (a folder or the library itself), the dynamic loader's path, then the
// `nvidia/cudnn/lib` folder that PyTorch wheels install inside Python's site-packages.
#include <dlfcn.h>
#include <glob.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "core/info.h"

namespace nasnet {

static const char* kCudnnName = "libcudnn.so.9";

static std::vector<std::string> cudnn_candidates() {
  std::vector<std::string> out;
  if (const char* p = std::getenv("CUDNN_PATH"); p != nullptr && *p != '\0') {
    std::string base(p);
    if (base.size() > 3 && base.find(".so") != std::string::npos) {
      out.push_back(base);
    } else {
      out.push_back(base + "/lib/" + kCudnnName);
      out.push_back(base + "/lib64/" + kCudnnName);
      out.push_back(base + "/" + kCudnnName);
    }
  }
  out.push_back(kCudnnName);  // LD_LIBRARY_PATH, ld.so.cache
  std::vector<std::string> patterns = {
      "/usr/local/lib/python3*/dist-packages/nvidia/cudnn/lib/",
      "/usr/local/lib/python3*/site-packages/nvidia/cudnn/lib/",
      "/usr/lib/python3*/dist-packages/nvidia/cudnn/lib/",
      "/usr/lib/python3*/site-packages/nvidia/cudnn/lib/",
      "/opt/conda/lib/python3*/site-packages/nvidia/cudnn/lib/",
  };
  if (const char* home = std::getenv("HOME"); home != nullptr)
    patterns.push_back(std::string(home) + "/.local/lib/python3*/site-packages/nvidia/cudnn/lib/");
  if (const char* venv = std::getenv("VIRTUAL_ENV"); venv != nullptr)
    patterns.push_back(std::string(venv) + "/lib/python3*/site-packages/nvidia/cudnn/lib/");
  for (const std::string& pattern : patterns) {
    glob_t g;
    if (glob((pattern + kCudnnName).c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
    }
    globfree(&g);
  }
  return out;
}

static void* g_cudnn_handle = nullptr;  // the library probe() opened, for the CUDA backend

static CudnnInfo probe() {
  CudnnInfo info;
#if defined(NASNET_CUDA_EMULATED)
  // The emulated CUDA device (native/emu) runs our own kernels only: a real cuDNN would need a GPU.
  info.reason = "emulated CUDA device: cuDNN not available";
  return info;
#endif
  for (const std::string& path : cudnn_candidates()) {
    info.tried.push_back(path);
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) continue;
    using GetVersion = size_t (*)();
    auto get_version = reinterpret_cast<GetVersion>(dlsym(handle, "cudnnGetVersion"));
    if (get_version == nullptr) {
      dlclose(handle);
      continue;
    }
    info.available = true;
    info.path = path;
    info.version = static_cast<long>(get_version());
    g_cudnn_handle = handle;
    return info;  // the handle stays open for the CUDA backend
  }
  info.reason = "libcudnn.so.9 not found (set CUDNN_PATH, or install it, e.g. pip install nvidia-cudnn-cu12)";
  return info;
}

CudnnInfo cudnn_info() {
  static std::once_flag once;
  static CudnnInfo info;
  std::call_once(once, [] { info = probe(); });
  return info;
}

// The handle of the loaded library (nullptr when none), declared in cuda/cudnn_api.h.
void* cudnn_library_handle() {
  cudnn_info();
  return g_cudnn_handle;
}

}  // namespace nasnet
