// Host memory for the CPU backend's plans, with a cache of large freed blocks.
//
// A plan's activation arena is one large block (tens to hundreds of MiB). A fresh block is a new
// mapping, and the first step that touches it pays a page fault per 4 KiB page: for a search that
// compiles a plan per child (the shared mode meets a new child at almost every step) that was most
// of the step (a 1@192 proxy at batch 32: ~250 ms for a new child's first step against 70 ms warm,
// the kernel's fault handling a quarter of the process's CPU time). So blocks of at least
// kMinCachedBytes are mapped here, and a freed one is kept, up to a bound on the bytes kept: the
// next request gets the smallest kept block that holds it, or else the largest grown with mremap
// (its mapped pages move along; only the new tail is fresh), with its pages already mapped — the
// caching allocator of PyTorch's CUDA backend, on the host. A reused block holds what its last owner
// wrote: plans never rely on fresh memory being zero (a test runs plans on poisoned reused blocks).
//
// Thread-safe. Small blocks are 256-byte aligned, large ones page-aligned.
#pragma once
#include <cstddef>

namespace nasnet::cpu {

// Blocks smaller than this go straight to the C heap (which reuses them itself).
constexpr size_t kMinCachedBytes = size_t{1} << 20;

// A block of at least `bytes` (256-byte aligned), or nullptr when the host is out of memory even
// after the cache has been given back.
void* host_alloc(size_t bytes);
// Gives back a block from host_alloc (nullptr: nothing). Large blocks are cached, within the bound.
void host_free(void* p);

struct HostBlockStats {
  size_t cached_bytes = 0;  // capacity of the blocks kept for reuse
  size_t cached_blocks = 0;
  size_t limit_bytes = 0;   // the most the cache keeps
  size_t reused = 0;        // large requests served from the cache
  size_t fresh = 0;         // large requests that allocated
};
HostBlockStats host_block_stats();

// Frees every cached block (what `releaseCachedMemory()` does from JavaScript).
void host_blocks_release();

// Bounds the bytes the cache keeps (0: caches nothing) and frees what exceeds it; the default is a
// sixteenth of the machine's memory, at most 2 GiB.
void host_blocks_set_limit(size_t bytes);

// Tests: fill every reused block with a NaN pattern before handing it out.
void host_blocks_poison(bool on);

}  // namespace nasnet::cpu
