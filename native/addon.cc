// The addon's export table. Logic lives in the core (native/core, native/cpu, native/plan) and
// argument conversion in the napi_*.cc files; this file only names what JavaScript can call.
#include <napi.h>

#include "napi_exports.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, nasnet::napi::Info, "info"));
  exports.Set("cachedMemory", Napi::Function::New(env, nasnet::napi::CachedMemory, "cachedMemory"));
  exports.Set("releaseCachedMemory", Napi::Function::New(env, nasnet::napi::ReleaseCachedMemory, "releaseCachedMemory"));
  exports.Set("setCachedMemoryLimit", Napi::Function::New(env, nasnet::napi::SetCachedMemoryLimit, "setCachedMemoryLimit"));
  nasnet::napi::RegisterEngine(env, exports);
  return exports;
}

NODE_API_MODULE(nasnet, Init)
