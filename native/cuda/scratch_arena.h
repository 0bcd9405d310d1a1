// Scratch memory of the kernels of one captured step. Some CUDA kernels need temporary device
// memory (partial sums, row losses, split filter gradients: Scratch in common.cuh). Eagerly that is
// stream-ordered cudaMallocAsync; a step that is captured as a CUDA graph should allocate nothing,
// so the CUDA backend gives each captured step an arena: the step's eager run measures the most
// scratch it holds at once, the arena is allocated that large, and the capture (and every replay)
// takes scratch from it. Scratch is scoped (freed in reverse order of allocation), so the arena is a
// stack; the same calls in the same order get the same addresses every step, as a graph needs.
// Plain C++ (no CUDA headers).
#pragma once
#include <cstddef>

namespace nasnet::cuda {

class ScratchArena {
 public:
  ScratchArena() = default;
  ScratchArena(void* base, size_t size) : base_(static_cast<char*>(base)), size_(size) {}

  // Installs an arena for the calling thread while it lives (nullptr: none), starting it empty.
  class Use {
   public:
    explicit Use(ScratchArena* arena) : prev_(current_) {
      current_ = arena;
      if (arena != nullptr) arena->used_ = arena->wanted_ = 0;
    }
    ~Use() { current_ = prev_; }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

   private:
    ScratchArena* prev_;
  };
  static ScratchArena* current() { return current_; }

  // `bytes` from the top of the arena, or nullptr when they do not fit (the caller allocates them
  // elsewhere; the need is counted in peak() all the same).
  void* take(size_t bytes) {
    const size_t b = Round(bytes);
    wanted_ += b;
    if (wanted_ > peak_) peak_ = wanted_;
    if (used_ + b > size_ || used_ != wanted_ - b) return nullptr;
    void* p = base_ + used_;
    used_ += b;
    return p;
  }
  // Returns what take() gave (`from_arena`) or counted (the caller freed it elsewhere).
  void give_back(size_t bytes, bool from_arena) {
    const size_t b = Round(bytes);
    wanted_ -= b;
    if (from_arena) used_ -= b;
  }
  // The most scratch held at once since this arena was created.
  size_t peak() const { return peak_; }
  size_t size() const { return size_; }
  void* base() const { return base_; }

 private:
  static size_t Round(size_t bytes) { return (bytes + 255) / 256 * 256; }
  static thread_local ScratchArena* current_;
  char* base_ = nullptr;
  size_t size_ = 0;
  size_t used_ = 0, wanted_ = 0, peak_ = 0;
};

}  // namespace nasnet::cuda
