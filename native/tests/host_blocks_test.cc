// The CPU backend's host blocks (cpu/host_blocks.h): freed large blocks come back to the next
// request, grown in place of a fresh mapping when none is large enough, within the limit; and plans
// give the same results on reused (poisoned) memory as on fresh memory.
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "cpu/host_blocks.h"
#include "tests/kernels_util.h"
#include "tests/plan_util.h"

using nasnet::cpu::host_alloc;
using nasnet::cpu::host_block_stats;
using nasnet::cpu::host_blocks_poison;
using nasnet::cpu::host_blocks_release;
using nasnet::cpu::host_blocks_set_limit;
using nasnet::cpu::host_free;

namespace {
constexpr size_t MiB = size_t{1} << 20;

// Restores the default state whatever a test did.
struct DefaultBlocks {
  size_t limit = host_block_stats().limit_bytes;
  DefaultBlocks() { host_blocks_release(); }
  ~DefaultBlocks() {
    host_blocks_poison(false);
    host_blocks_set_limit(limit);
    host_blocks_release();
  }
};
}  // namespace

NASNET_TEST(host_blocks_reuse_grow_trim_and_release) {
  DefaultBlocks guard;
  host_blocks_set_limit(64 * MiB);
  // Small blocks never enter the cache.
  void* small = host_alloc(1000);
  EXPECT_TRUE(small != nullptr && reinterpret_cast<uintptr_t>(small) % 256 == 0);
  host_free(small);
  EXPECT_TRUE(host_block_stats().cached_blocks == 0);
  // A freed large block comes back, its contents as they were (the same pages).
  auto s0 = host_block_stats();
  auto* a = static_cast<float*>(host_alloc(8 * MiB));
  EXPECT_TRUE(a != nullptr && reinterpret_cast<uintptr_t>(a) % 256 == 0);
  for (size_t i = 0; i < 8 * MiB / 4; i += 1024) a[i] = static_cast<float>(i);
  host_free(a);
  EXPECT_TRUE(host_block_stats().cached_blocks == 1 && host_block_stats().cached_bytes == 8 * MiB);
  auto* b = static_cast<float*>(host_alloc(6 * MiB));  // smaller: the same block
  EXPECT_TRUE(b == a && b[1024 * 5] == 5120.0f);
  EXPECT_TRUE(host_block_stats().reused == s0.reused + 1 && host_block_stats().cached_blocks == 0);
  host_free(b);
  // Larger than every kept block: the largest is grown (its pages move along), no fresh block.
  auto* c = static_cast<float*>(host_alloc(20 * MiB));
  EXPECT_TRUE(c != nullptr && c[1024 * 7] == 7168.0f);
  for (size_t i = 8 * MiB / 4; i < 20 * MiB / 4; i += 1024) c[i] = 1.0f;  // the new tail is usable
  EXPECT_TRUE(host_block_stats().reused == s0.reused + 2 && host_block_stats().fresh == s0.fresh + 1);
  // Two live blocks at once: the second is fresh.
  void* d = host_alloc(4 * MiB);
  EXPECT_TRUE(d != nullptr && d != c && host_block_stats().fresh == s0.fresh + 2);
  host_free(c);
  host_free(d);
  EXPECT_TRUE(host_block_stats().cached_bytes == 24 * MiB && host_block_stats().cached_blocks == 2);
  // The smallest kept block that holds a request serves it.
  void* e = host_alloc(3 * MiB);
  EXPECT_TRUE(e == d);
  host_free(e);
  // The limit: the oldest kept blocks go first; a block over the limit is not kept at all.
  void* f = host_alloc(50 * MiB);  // grows the 20 MiB block (the largest) to 50
  host_free(f);                    // 4 + 50 > 64? no: 54 kept
  EXPECT_TRUE(host_block_stats().cached_bytes == 54 * MiB);
  void* g = host_alloc(60 * MiB);  // grows the 50 MiB block
  void* h = host_alloc(30 * MiB);  // the 4 MiB block, grown
  EXPECT_TRUE(g != nullptr && h != nullptr);
  host_free(g);  // 60 kept
  host_free(h);  // 30 more would exceed 64: the 60 MiB block (oldest) is unmapped
  EXPECT_TRUE(host_block_stats().cached_bytes == 30 * MiB && host_block_stats().cached_blocks == 1);
  void* big = host_alloc(100 * MiB);  // grows the 30 MiB block
  host_free(big);                     // over the limit: unmapped, not kept
  EXPECT_TRUE(host_block_stats().cached_blocks == 0 && host_block_stats().cached_bytes == 0);
  // Lowering the limit and releasing free what is kept.
  host_free(host_alloc(16 * MiB));
  EXPECT_TRUE(host_block_stats().cached_bytes == 16 * MiB);
  host_blocks_set_limit(8 * MiB);
  EXPECT_TRUE(host_block_stats().cached_bytes == 0);
  host_blocks_set_limit(64 * MiB);
  host_free(host_alloc(16 * MiB));
  host_blocks_release();
  EXPECT_TRUE(host_block_stats().cached_bytes == 0 && host_block_stats().cached_blocks == 0);
  // Poisoned reuse: every float of the request is a NaN.
  host_blocks_poison(true);
  host_free(host_alloc(2 * MiB));
  auto* p = static_cast<float*>(host_alloc(2 * MiB));
  bool all_nan = true;
  for (size_t i = 0; i < 2 * MiB / 4; ++i) all_nan = all_nan && std::isnan(p[i]);
  EXPECT_TRUE(all_nan);
  host_free(p);
}

// A training plan and an inference plan run on fresh memory, are destroyed, then compiled again on
// a new store (the same initial weights): the second pair gets the first pair's blocks filled with
// NaNs, and must give bit-identical losses, logits and weights.
NASNET_TEST(plan_results_on_reused_memory_equal_fresh_memory) {
  using nasnet::test::MustCompile;
  DefaultBlocks guard;
  const int N = 48;
  const std::vector<float> x = nasnet::test::random_vec(static_cast<size_t>(N) * 3 * 7 * 9, 11);
  const std::vector<int32_t> labels = nasnet::test::Labels(N, 5);
  struct Outcome {
    std::vector<double> losses;
    std::vector<float> logits, weights;
  };
  auto run = [&]() {
    Outcome o;
    auto store = std::make_shared<nasnet::ParameterStore>();
    auto train = MustCompile(nasnet::test::ChainGraph(), store, N, true);
    auto eval = MustCompile(nasnet::test::ChainGraph(), store, N, false);
    if (!train || !eval) return o;
    nasnet::StepHyper h;
    h.lr = 0.05f;
    for (int step = 0; step < 3; ++step) {
      nasnet::StepResult r;
      EXPECT_TRUE(train->TrainStep(x.data(), labels.data(), h, &r).ok());
      o.losses.push_back(r.loss);
      o.losses.push_back(r.grad_norm);
    }
    o.logits.resize(static_cast<size_t>(N) * 5);
    EXPECT_TRUE(eval->Predict(x.data(), o.logits.data()).ok());
    EXPECT_TRUE(store->Get("fc/w", &o.weights, nullptr).ok());
    return o;
  };
  const Outcome fresh = run();
  const auto before = host_block_stats();
  host_blocks_poison(true);
  const Outcome reused = run();
  host_blocks_poison(false);
  EXPECT_TRUE(host_block_stats().reused > before.reused);  // the second run did run on reused blocks
  EXPECT_TRUE(!fresh.losses.empty() && fresh.losses == reused.losses);
  EXPECT_TRUE(!fresh.logits.empty() && std::memcmp(fresh.logits.data(), reused.logits.data(), fresh.logits.size() * 4) == 0);
  EXPECT_TRUE(!fresh.weights.empty() && fresh.weights == reused.weights);
}
