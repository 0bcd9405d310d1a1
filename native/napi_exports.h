// Declarations of every function the addon exports (defined in napi_*.cc).
#pragma once
#include <napi.h>

namespace nasnet::napi {

// info() → { version, cpu: {simd, threads}, cuda: {...}, cudnn: {...} }
Napi::Value Info(const Napi::CallbackInfo& info);

// The CPU backend's cache of freed host blocks (napi_memory.cc): { bytes, blocks, limit, reused, fresh }.
Napi::Value CachedMemory(const Napi::CallbackInfo& info);
Napi::Value ReleaseCachedMemory(const Napi::CallbackInfo& info);
Napi::Value SetCachedMemoryLimit(const Napi::CallbackInfo& info);

// NativeStore and NativePlan classes (napi_engine.cc).
void RegisterEngine(Napi::Env env, Napi::Object exports);

}  // namespace nasnet::napi
