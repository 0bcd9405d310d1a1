// Resolves the cuDNN entries declared in cudnn_api.h from the library core/cudnn_probe.cc opened.
#include <dlfcn.h>

#include <mutex>
#include <string>

#include "core/info.h"
#include "cuda/cudnn_api.h"

namespace nasnet::cudnn {

namespace {

struct Loaded {
  Api api{};
  Status status;
};

template <typename F>
bool resolve(void* lib, const char* name, F* slot, std::string* missing) {
  *slot = reinterpret_cast<F>(dlsym(lib, name));
  if (*slot == nullptr) {
    if (!missing->empty()) *missing += ", ";
    *missing += name;
    return false;
  }
  return true;
}

Loaded load() {
  Loaded out;
  CudnnInfo info = cudnn_info();
  void* lib = cudnn_library_handle();
  if (!info.available || lib == nullptr) {
    out.status = Status::Unavailable("cuDNN is not available: " + info.reason);
    return out;
  }
  Api& a = out.api;
  std::string missing;
#define NASNET_CUDNN_RESOLVE(field) resolve(lib, "cudnn" #field, &a.field, &missing)
  NASNET_CUDNN_RESOLVE(GetVersion);
  NASNET_CUDNN_RESOLVE(GetErrorString);
  NASNET_CUDNN_RESOLVE(Create);
  NASNET_CUDNN_RESOLVE(Destroy);
  NASNET_CUDNN_RESOLVE(SetStream);
  NASNET_CUDNN_RESOLVE(CreateTensorDescriptor);
  NASNET_CUDNN_RESOLVE(SetTensor4dDescriptor);
  NASNET_CUDNN_RESOLVE(DestroyTensorDescriptor);
  NASNET_CUDNN_RESOLVE(CreateFilterDescriptor);
  NASNET_CUDNN_RESOLVE(SetFilter4dDescriptor);
  NASNET_CUDNN_RESOLVE(DestroyFilterDescriptor);
  NASNET_CUDNN_RESOLVE(CreateConvolutionDescriptor);
  NASNET_CUDNN_RESOLVE(SetConvolution2dDescriptor);
  NASNET_CUDNN_RESOLVE(SetConvolutionGroupCount);
  NASNET_CUDNN_RESOLVE(SetConvolutionMathType);
  NASNET_CUDNN_RESOLVE(DestroyConvolutionDescriptor);
  NASNET_CUDNN_RESOLVE(GetConvolution2dForwardOutputDim);
  NASNET_CUDNN_RESOLVE(GetConvolutionForwardAlgorithm_v7);
  NASNET_CUDNN_RESOLVE(GetConvolutionBackwardDataAlgorithm_v7);
  NASNET_CUDNN_RESOLVE(GetConvolutionBackwardFilterAlgorithm_v7);
  NASNET_CUDNN_RESOLVE(GetConvolutionForwardWorkspaceSize);
  NASNET_CUDNN_RESOLVE(GetConvolutionBackwardDataWorkspaceSize);
  NASNET_CUDNN_RESOLVE(GetConvolutionBackwardFilterWorkspaceSize);
  NASNET_CUDNN_RESOLVE(ConvolutionForward);
  NASNET_CUDNN_RESOLVE(ConvolutionBackwardData);
  NASNET_CUDNN_RESOLVE(ConvolutionBackwardFilter);
#undef NASNET_CUDNN_RESOLVE
  if (!missing.empty()) {
    out.status = Status::Unavailable(info.path + " lacks " + missing + " (cuDNN 9 expected, found version " +
                                     std::to_string(info.version) + ")");
    out.api = Api{};
  }
  return out;
}

}  // namespace

Status load_api(const Api** api) {
  static std::once_flag once;
  static Loaded loaded;
  std::call_once(once, [] { loaded = load(); });
  *api = loaded.status.ok() ? &loaded.api : nullptr;
  return loaded.status;
}

}  // namespace nasnet::cudnn
