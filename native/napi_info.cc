// info(): what this build can do, as a plain object.
#include "core/info.h"
#include "napi_exports.h"

namespace nasnet::napi {

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("version", NASNET_VERSION);

  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("simd", simd_level_name(simd_level()));
  cpu.Set("threads", cpu_threads());
  out.Set("cpu", cpu);

  CudaInfo c = cuda_info();
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("compiled", c.compiled);
  cuda.Set("architectures", c.architectures);
  cuda.Set("toolkitVersion", c.toolkit_version);
  cuda.Set("runtimeVersion", c.runtime_version);
  cuda.Set("driverVersion", c.driver_version);
  Napi::Array devices = Napi::Array::New(env, c.devices.size());
  for (size_t i = 0; i < c.devices.size(); ++i) {
    const CudaDevice& d = c.devices[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", d.index);
    o.Set("name", d.name);
    o.Set("totalMemory", static_cast<double>(d.total_memory));
    o.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
    o.Set("multiprocessors", d.multiprocessors);
    devices.Set(i, o);
  }
  cuda.Set("devices", devices);
  cuda.Set("reason", c.reason);
  out.Set("cuda", cuda);

  CudnnInfo d = cudnn_info();
  Napi::Object cudnn = Napi::Object::New(env);
  cudnn.Set("available", d.available);
  cudnn.Set("path", d.path);
  cudnn.Set("version", static_cast<double>(d.version));
  cudnn.Set("reason", d.reason);
  Napi::Array tried = Napi::Array::New(env, d.tried.size());
  for (size_t i = 0; i < d.tried.size(); ++i) tried.Set(i, d.tried[i]);
  cudnn.Set("tried", tried);
  out.Set("cudnn", cudnn);
  return out;
}

}  // namespace nasnet::napi
