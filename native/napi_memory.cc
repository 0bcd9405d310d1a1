// cachedMemory(), releaseCachedMemory(), setCachedMemoryLimit(bytes): the CPU backend's cache of
// freed host blocks (cpu/host_blocks.h). Arguments are validated in lib/engine/memory.ts.
#include "cpu/host_blocks.h"
#include "napi_exports.h"

namespace nasnet::napi {

Napi::Value CachedMemory(const Napi::CallbackInfo& info) {
  const cpu::HostBlockStats s = cpu::host_block_stats();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("bytes", static_cast<double>(s.cached_bytes));
  out.Set("blocks", static_cast<double>(s.cached_blocks));
  out.Set("limit", static_cast<double>(s.limit_bytes));
  out.Set("reused", static_cast<double>(s.reused));
  out.Set("fresh", static_cast<double>(s.fresh));
  return out;
}

Napi::Value ReleaseCachedMemory(const Napi::CallbackInfo& info) {
  cpu::host_blocks_release();
  return info.Env().Undefined();
}

Napi::Value SetCachedMemoryLimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "setCachedMemoryLimit(bytes): expected one number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const double bytes = info[0].As<Napi::Number>().DoubleValue();
  if (!(bytes >= 0) || bytes > 9007199254740991.0) {
    Napi::RangeError::New(env, "setCachedMemoryLimit(bytes): expected a non-negative safe integer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  cpu::host_blocks_set_limit(static_cast<size_t>(bytes));
  return env.Undefined();
}

}  // namespace nasnet::napi
