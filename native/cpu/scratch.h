// Per-thread scratch memory for the CPU kernels: grown on demand, 64-byte aligned, never shrunk, so
// steady-state training allocates nothing. Declare one `thread_local Scratch` per use site.
#pragma once
#include <cstddef>
#include <cstdlib>

namespace nasnet::cpu {

class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { std::free(p_); }
  // A buffer of at least n floats (contents unspecified).
  float* get(size_t n) {
    if (n > cap_) {
      std::free(p_);
      size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
      p_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      cap_ = p_ != nullptr ? n : 0;
    }
    return p_;
  }

 private:
  float* p_ = nullptr;
  size_t cap_ = 0;
};

}  // namespace nasnet::cpu
