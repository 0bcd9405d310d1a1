// Kernel launches on the emulated device: what kernel<<<grid, block, smem, stream>>>(args...) does
// under nvcc, NASNET_LAUNCH does here through nasnet_emu::launch. The arguments are converted to the
// kernel's parameter types and copied at launch (as the device does); the launch is validated at
// once (configuration, stream, pointer arguments) and runs in stream order (scheduler.cc).
#pragma once
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include "nasnet_emu/types.h"

namespace nasnet_emu {

// A pointer argument of a launch, checked to be device-accessible (device, managed or pinned host
// memory, or null) before the kernel runs.
struct PointerArg {
  int index;
  const void* ptr;
};

cudaError_t launch_erased(const char* name, const void* kernel, dim3 grid, dim3 block, size_t smem,
                          cudaStream_t stream, std::function<void()> body, const PointerArg* pointers, int count);

template <class T>
inline void collect_pointer(int index, const T& value, PointerArg* out, int* n) {
  if constexpr (std::is_pointer<T>::value) out[(*n)++] = PointerArg{index, static_cast<const void*>(value)};
}

template <class Tuple, size_t... I>
inline int collect_pointers(const Tuple& t, PointerArg* out, std::index_sequence<I...>) {
  int n = 0;
  (collect_pointer((int)I, std::get<I>(t), out, &n), ...);
  return n;
}

template <typename... P, typename... A>
cudaError_t launch(const char* name, void (*kernel)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                   A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "kernel launched with the wrong number of arguments");
  using Params = std::tuple<std::decay_t<P>...>;
  auto params = std::make_shared<Params>(std::forward<A>(args)...);
  PointerArg pointers[sizeof...(P) + 1];
  int count = collect_pointers(*params, pointers, std::index_sequence_for<P...>{});
  return launch_erased(
      name, reinterpret_cast<const void*>(kernel), grid, block, smem, stream,
      [kernel, params]() { std::apply(kernel, *params); }, pointers, count);
}

}  // namespace nasnet_emu
