// GEMM and the dense layer.
// M, N, K = GEMM sizes (C[M,N] = op(A)[M,K] · op(B)[K,N]); for the dense layer M = rows (batch),
// I = input features, O = output features.
//
// Activations are written (=), parameter gradients accumulate (+=), as everywhere in native/cpu.
//
// The GEMM is the GotoBLAS/BLIS scheme: for each KC-slice of K, op(A) is packed into MR-row
// micro-panels (alpha folded in) and, for each NC-slice of N, op(B) into NR-column micro-panels; a
// register-tile micro-kernel then computes MR×NR blocks of C with FMAs. One B micro-panel (KC×NR)
// stays in L1 while the kernel walks an MC-row block of packed A held in L2. Threads split the
// (MC-block × NR-panel) grid statically, so every C element is summed in the same order on every run.
// With one row block (M <= MC: the pointwise convolutions) an untransposed B whose rows are not a
// multiple of 2 KiB apart is not packed: the micro-kernel reads its full panels in place (b_in_place).
// Micro-kernels: AVX-512 8×32 (16 zmm accumulators; as fast as 14×32 on large GEMMs and without
// wasted rows at the channel counts conv uses: 32, 64, 128), AVX2 6×16, portable 4×8.
// A·Bᵀ with a small C and K >= 512 (conv weight gradients) skips packing: direct 4×4 blocks of
// 16-lane dot products (AVX-512).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "core/nan.h"
#include "cpu/dispatch.h"
#include "cpu/elementwise.h"
#include "cpu/kernels.h"
#include "cpu/scratch.h"

namespace nasnet::cpu {
namespace {

// b: the B micro-panel, its rows ldb floats apart (NR when packed; B's own row stride when the kernel
// reads B in place, see b_in_place); bias: nullptr, or one value per row of the tile added to it as
// it is stored (after beta * C); add: nullptr, or a tile laid out as C's (ldc apart) added after the
// bias.
using MicroKernel = void (*)(int kc, const float* a, const float* b, int ldb, float* c, int ldc, float beta,
                             const float* bias, const float* add);

struct GemmConfig {
  int MR, NR, MC, KC, NC;
  MicroKernel kernel;
  MicroKernel kernel_relu;  // the same, reading B as relu_value(B) (B read in place with relu_b)
};

// ---- micro-kernels: C[MR,NR] = beta*C + sum_k a[k*MR + r] * b'[k*ldb + j] (+ bias[r]) (+ add[r*ldc + j]),
// b' = relu_value(b) when RELU (compare and zero, as the packing does: NaN stays) else b; beta == 0
// ignores C ----

template <int MR, bool RELU>
__attribute__((target("avx512f,avx512bw,avx512vl,fma"))) void kernel_avx512(int kc, const float* __restrict a,
                                                                             const float* __restrict b, int ldb,
                                                                             float* c, int ldc, float beta,
                                                                             const float* __restrict bias,
                                                                             const float* __restrict add) {
  __m512 c0[MR], c1[MR];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
  for (int k = 0; k < kc; ++k) {
    __m512 b0 = _mm512_loadu_ps(b);
    __m512 b1 = _mm512_loadu_ps(b + 16);
    if (RELU) {
      const __m512 zero = _mm512_setzero_ps();
      b0 = _mm512_mask_mov_ps(b0, _mm512_cmp_ps_mask(b0, zero, _CMP_LE_OQ), zero);
      b1 = _mm512_mask_mov_ps(b1, _mm512_cmp_ps_mask(b1, zero, _CMP_LE_OQ), zero);
    }
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      __m512 ar = _mm512_set1_ps(a[r]);
      c0[r] = _mm512_fmadd_ps(ar, b0, c0[r]);
      c1[r] = _mm512_fmadd_ps(ar, b1, c1[r]);
    }
    a += MR;
    b += ldb;
  }
  if (beta != 0.0f) {
    __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      c0[r] = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + r * ldc), c0[r]);
      c1[r] = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + r * ldc + 16), c1[r]);
    }
  }
  if (bias != nullptr) {
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512 vr = _mm512_set1_ps(bias[r]);
      c0[r] = _mm512_add_ps(c0[r], vr);
      c1[r] = _mm512_add_ps(c1[r], vr);
    }
  }
  if (add != nullptr) {
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      c0[r] = _mm512_add_ps(c0[r], _mm512_loadu_ps(add + r * ldc));
      c1[r] = _mm512_add_ps(c1[r], _mm512_loadu_ps(add + r * ldc + 16));
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    _mm512_storeu_ps(c + r * ldc, c0[r]);
    _mm512_storeu_ps(c + r * ldc + 16, c1[r]);
  }
}

template <int MR, bool RELU>
__attribute__((target("avx2,fma"))) void kernel_avx2(int kc, const float* __restrict a, const float* __restrict b,
                                                     int ldb, float* c, int ldc, float beta,
                                                     const float* __restrict bias, const float* __restrict add) {
  __m256 c0[MR], c1[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) c0[r] = c1[r] = _mm256_setzero_ps();
  for (int k = 0; k < kc; ++k) {
    __m256 b0 = _mm256_loadu_ps(b);
    __m256 b1 = _mm256_loadu_ps(b + 8);
    if (RELU) {
      const __m256 zero = _mm256_setzero_ps();
      b0 = _mm256_blendv_ps(b0, zero, _mm256_cmp_ps(b0, zero, _CMP_LE_OQ));
      b1 = _mm256_blendv_ps(b1, zero, _mm256_cmp_ps(b1, zero, _CMP_LE_OQ));
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      __m256 ar = _mm256_broadcast_ss(a + r);
      c0[r] = _mm256_fmadd_ps(ar, b0, c0[r]);
      c1[r] = _mm256_fmadd_ps(ar, b1, c1[r]);
    }
    a += MR;
    b += ldb;
  }
  if (beta != 0.0f) {
    __m256 vb = _mm256_set1_ps(beta);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      c0[r] = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + r * ldc), c0[r]);
      c1[r] = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + r * ldc + 8), c1[r]);
    }
  }
  if (bias != nullptr) {
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m256 vr = _mm256_set1_ps(bias[r]);
      c0[r] = _mm256_add_ps(c0[r], vr);
      c1[r] = _mm256_add_ps(c1[r], vr);
    }
  }
  if (add != nullptr) {
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      c0[r] = _mm256_add_ps(c0[r], _mm256_loadu_ps(add + r * ldc));
      c1[r] = _mm256_add_ps(c1[r], _mm256_loadu_ps(add + r * ldc + 8));
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    _mm256_storeu_ps(c + r * ldc, c0[r]);
    _mm256_storeu_ps(c + r * ldc + 8, c1[r]);
  }
}

// Plain C++ (the compiler vectorizes it with the baseline SSE2).
template <bool RELU>
void kernel_portable(int kc, const float* __restrict a, const float* __restrict b, int ldb, float* c, int ldc,
                     float beta, const float* __restrict bias, const float* __restrict add) {
  constexpr int MR = 4, NR = 8;
  float acc[MR][NR] = {};
  for (int k = 0; k < kc; ++k) {
    for (int r = 0; r < MR; ++r)
      for (int j = 0; j < NR; ++j) acc[r][j] += a[r] * (RELU ? relu_value(b[j]) : b[j]);
    a += MR;
    b += ldb;
  }
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NR; ++j) {
      float v = beta == 0.0f ? acc[r][j] : beta * c[r * ldc + j] + acc[r][j];
      if (bias != nullptr) v += bias[r];
      c[r * ldc + j] = add != nullptr ? v + add[r * ldc + j] : v;
    }
}

constexpr int kMaxTile = 16 * 32;

const GemmConfig& config_for(SimdLevel level) {
  // MC*KC*4 bytes of packed A (~200 KB) sit in L2; KC*NR*4 bytes of B (one micro-panel) in L1.
#ifndef NASNET_GEMM512_MR  // tile sizes can be overridden when tuning with bench/kernels/gemm_bench.cc
#define NASNET_GEMM512_MR 8
#define NASNET_GEMM512_MC (8 * 16)
#define NASNET_GEMM512_KC 384
#endif
  static const GemmConfig avx512{NASNET_GEMM512_MR, 32, NASNET_GEMM512_MC, NASNET_GEMM512_KC, 4096,
                                 &kernel_avx512<NASNET_GEMM512_MR, false>, &kernel_avx512<NASNET_GEMM512_MR, true>};
  static const GemmConfig avx2{6, 16, 6 * 24, 256, 4096, &kernel_avx2<6, false>, &kernel_avx2<6, true>};
  static const GemmConfig portable{4, 8, 4 * 32, 256, 4096, &kernel_portable<false>, &kernel_portable<true>};
  switch (level) {
    case SimdLevel::kAvx512: return avx512;
    case SimdLevel::kAvx2: return avx2;
    default: return portable;
  }
}

// ---- transposing packs (AVX-512): 16×16 blocks transposed in registers instead of one scalar
// gather per element. out[c] = column c of the 16 rows r[0..15] (lane j = r[j][c]). ----

// GCC 12 warns that the intrinsics' own undefined pass-through operand (`__Y`) may be used
// uninitialized once inlined in these two functions: a false positive, every lane is written.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f"), always_inline)) inline void transpose16x16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // u[4i+m], 128-bit lane L: column 4L+m of rows 4i..4i+3.
  for (int i = 0; i < 4; ++i) {
    const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 2]);
    const __m512d c = _mm512_castps_pd(t[4 * i + 1]), e = _mm512_castps_pd(t[4 * i + 3]);
    u[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, e));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, e));
  }
  for (int m = 0; m < 4; ++m) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x88), v1 = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xdd);
    const __m512 v2 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x88);
    const __m512 v3 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xdd);
    r[m] = _mm512_shuffle_f32x4(v0, v2, 0x88);
    r[8 + m] = _mm512_shuffle_f32x4(v0, v2, 0xdd);
    r[4 + m] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    r[12 + m] = _mm512_shuffle_f32x4(v1, v3, 0xdd);
  }
}

// d[k*ld + j] = alpha * src[j*lds + k] for j < rows (<= 16; zero for rows <= j < width) and k < kc:
// `rows` rows of src, transposed into kc rows of `width` (8 or 16) floats at stride ld.
__attribute__((target("avx512f"))) void pack_transposed_avx512(const float* src, size_t lds, int rows, int kc,
                                                              float alpha, int width, int ld, float* d) {
  const __m512 va = _mm512_set1_ps(alpha);
  for (int k = 0; k < kc; k += 16) {
    const int kr = std::min(16, kc - k);
    const __mmask16 mask = static_cast<__mmask16>(kr == 16 ? 0xFFFF : (1u << kr) - 1);
    __m512 r[16];
    for (int j = 0; j < 16; ++j)
      r[j] = j < rows ? _mm512_maskz_loadu_ps(mask, src + static_cast<size_t>(j) * lds + k) : _mm512_setzero_ps();
    transpose16x16(r);
    if (width == 16) {
      for (int kk = 0; kk < kr; ++kk) _mm512_storeu_ps(d + static_cast<size_t>(k + kk) * ld, _mm512_mul_ps(va, r[kk]));
    } else {
      for (int kk = 0; kk < kr; ++kk)
        _mm256_storeu_ps(d + static_cast<size_t>(k + kk) * ld, _mm512_castps512_ps256(_mm512_mul_ps(va, r[kk])));
    }
  }
}
#pragma GCC diagnostic pop

// Packs rows [i0, i0+rows) × cols [k0, k0+kc) of op(A), times alpha, as one MR-row micro-panel
// (d[k*MR + r]); rows past the edge are zero.
void pack_a_panel(const float* A, int lda, bool ta, int i0, int rows, int k0, int kc, float alpha, int MR, float* d) {
  if (!ta && MR == 8 && active_simd() == SimdLevel::kAvx512) {
    pack_transposed_avx512(A + static_cast<size_t>(i0) * lda + k0, lda, rows, kc, alpha, 8, 8, d);
    return;
  }
  if (!ta) {
    // k outer: sequential writes; the MR source rows stay in L1 while k advances.
    const float* src = A + static_cast<size_t>(i0) * lda + k0;
    for (int k = 0; k < kc; ++k)
      for (int r = 0; r < rows; ++r) d[k * MR + r] = alpha * src[static_cast<size_t>(r) * lda + k];
  } else {
    for (int k = 0; k < kc; ++k) {
      const float* src = A + static_cast<size_t>(k0 + k) * lda + i0;
      for (int r = 0; r < rows; ++r) d[k * MR + r] = alpha * src[r];
    }
  }
  if (rows < MR)
    for (int k = 0; k < kc; ++k)
      for (int r = rows; r < MR; ++r) d[k * MR + r] = 0.0f;
}

// Columns ahead of the panel being packed that are prefetched, row by row: two panels. The rows of
// dense 32×32 planes (the ones packed) are 4 KiB apart, too many streams for the hardware
// prefetchers. Measured (one thread, M 32, N 1024, K 192, relu_b, 32 images: 25 MB, from L3): 96 →
// 120 GFLOP/s; 4 images (in L2): 143 → 147.
constexpr int kPackAhead = 64;

// Rows [k0, k0+kc) × 32 columns from j0 of row-major B (AVX-512): two loads and two stores a row
// instead of a 128-byte memcpy call; with relu, relu_value of each (compare and zero: NaN stays);
// the rows kPackAhead columns on are prefetched.
__attribute__((target("avx512f"))) void pack_b_rows32_avx512(const float* B, int ldb, int k0, int kc, int j0, bool relu,
                                                            float* d) {
  const __m512 zero = _mm512_setzero_ps();
  for (int k = 0; k < kc; ++k) {
    const float* src = B + static_cast<size_t>(k0 + k) * ldb + j0;
    __m512 v0 = _mm512_loadu_ps(src), v1 = _mm512_loadu_ps(src + 16);
    _mm_prefetch(reinterpret_cast<const char*>(src + kPackAhead), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(src + kPackAhead + 16), _MM_HINT_T0);
    if (relu) {
      v0 = _mm512_mask_mov_ps(v0, _mm512_cmp_ps_mask(v0, zero, _CMP_LE_OQ), zero);
      v1 = _mm512_mask_mov_ps(v1, _mm512_cmp_ps_mask(v1, zero, _CMP_LE_OQ), zero);
    }
    _mm512_store_ps(d + static_cast<size_t>(k) * 32, v0);
    _mm512_store_ps(d + static_cast<size_t>(k) * 32 + 16, v1);
  }
}

// Packs rows [k0, k0+kc) × cols [j0, j0+cols) of op(B) as one NR-column micro-panel (d[k*NR + j]),
// as relu_value(op(B)) when relu is set.
void pack_b_panel(const float* B, int ldb, bool tb, int k0, int kc, int j0, int cols, int NR, bool relu, float* d) {
  if (!tb && NR == 32 && cols == 32 && active_simd() == SimdLevel::kAvx512) {
    pack_b_rows32_avx512(B, ldb, k0, kc, j0, relu, d);
  } else if (!tb) {
    for (int k = 0; k < kc; ++k) {
      const float* src = B + static_cast<size_t>(k0 + k) * ldb + j0;
      float* dk = d + k * NR;
      if (relu) {
        for (int j = 0; j < cols; ++j) dk[j] = relu_value(src[j]);
      } else {
        std::memcpy(dk, src, sizeof(float) * cols);
      }
      for (int j = cols; j < NR; ++j) dk[j] = 0.0f;
    }
  } else if (!relu && NR == 32 && active_simd() == SimdLevel::kAvx512) {
    for (int h = 0; h < 2; ++h)
      pack_transposed_avx512(B + static_cast<size_t>(j0 + 16 * h) * ldb + k0, ldb, std::max(0, std::min(16, cols - 16 * h)),
                             kc, 1.0f, 16, NR, d + 16 * h);
  } else {
    const float* src = B + static_cast<size_t>(j0) * ldb + k0;
    for (int k = 0; k < kc; ++k)
      for (int j = 0; j < cols; ++j) {
        const float v = src[static_cast<size_t>(j) * ldb + k];
        d[k * NR + j] = relu ? relu_value(v) : v;
      }
    if (cols < NR)
      for (int k = 0; k < kc; ++k)
        for (int j = cols; j < NR; ++j) d[k * NR + j] = 0.0f;
  }
}

void scale_c(int M, int N, float beta, float* C, int ldc) {
  for (int i = 0; i < M; ++i) {
    float* row = C + static_cast<size_t>(i) * ldc;
    if (beta == 0.0f)
      std::memset(row, 0, sizeof(float) * N);
    else if (beta != 1.0f)
      for (int j = 0; j < N; ++j) row[j] *= beta;
  }
}

// Where the packed op(A) of a KC-slice starting at pc lies in a whole packed A (sgemm_pack_a): the
// slices one after another, each m_panels MR-row micro-panels of its kc columns.
size_t packed_slice_offset(const GemmConfig& g, int M, int pc) {
  const int m_panels = (M + g.MR - 1) / g.MR;
  return static_cast<size_t>(m_panels) * g.MR * pc;
}

// Whether the micro-kernel reads B's full micro-panels where B lies (applying relu_b itself) instead
// of packing them first: B untransposed and its rows not a multiple of 2 KiB apart. Packing copies
// each panel once into L1 before the row block's tiles read it; read in place, the panel comes from
// where B is (L1/L2 for a depthwise output just written) and stays in L1 for the row block, unless
// its rows share a few L1 sets, as rows 4 KiB apart (dense 32×32 planes) all do: those are packed.
// Measured (one thread, 4 images, packed → in place): M 32, N 1024, rows 1,040 floats apart (the
// fused unit's depthwise output, sgemm_in_place_ld): K 32 155 → 183 GFLOP/s, K 192 173 → 217;
// M 64, N 256, rows 256 apart, K 384: 197 → 208, with relu_b 197 → 213; M 128, N 64, K 768: 213 →
// 224; but rows 1,024 apart, K 32: 143 → 122. The same products in the same order: the same floats
// as packing.
bool b_in_place(bool tb, int ldb) { return !tb && ldb % 512 != 0; }

// prepacked: op(A) already packed by sgemm_pack_a (alpha folded in there), or nullptr to pack it here.
// ex: B read as relu(B), a bias per row of C and a matrix laid out as C added as the last K-slice's
// tiles are stored.
void gemm_driver(const GemmConfig& g, bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc, int threads, const float* prepacked,
                 const PackedGemmExtras& ex) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {
    scale_c(M, N, beta, C, ldc);
    if (ex.row_bias != nullptr) add_row_bias(M, static_cast<size_t>(N), static_cast<size_t>(ldc), ex.row_bias, C);
    if (ex.addend != nullptr)
      for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) C[static_cast<size_t>(i) * ldc + j] += ex.addend[static_cast<size_t>(i) * ldc + j];
    return;
  }
  const int MR = g.MR, NR = g.NR;
  const int KC = std::min(K, g.KC);
  const int NC = std::min(N, g.NC);
  const int m_panels = (M + MR - 1) / MR;
  const int panels_per_block = g.MC / MR;
  const int m_blocks = (m_panels + panels_per_block - 1) / panels_per_block;
  const bool in_place = b_in_place(tb, ldb);
  thread_local Scratch a_buf, b_buf;
  float* const a_own = prepacked == nullptr ? a_buf.get(static_cast<size_t>(m_panels) * MR * KC) : nullptr;
  float* bp = m_blocks > 1 ? b_buf.get(static_cast<size_t>((NC + NR - 1) / NR) * NR * KC) : nullptr;

  parallel_team(threads, [&](int t, int team) {
    alignas(64) float tmp[kMaxTile];
    int lo = 0, hi = 0;
    for (int pc = 0; pc < K; pc += KC) {
      const int kc = std::min(KC, K - pc);
      const float b_eff = pc == 0 ? beta : 1.0f;
      const bool last = pc + kc == K;
      const float* const bias = last ? ex.row_bias : nullptr;
      const float* const addend = last ? ex.addend : nullptr;
      const float* ap = a_own;
      if (prepacked != nullptr) {
        ap = prepacked + packed_slice_offset(g, M, pc);
      } else {
        static_share(m_panels, t, team, lo, hi);
        for (int p = lo; p < hi; ++p)
          pack_a_panel(A, lda, ta, p * MR, std::min(MR, M - p * MR), pc, kc, alpha, MR,
                       a_own + static_cast<size_t>(p) * MR * kc);
        team_barrier(team);
      }
      // The MR×NR tiles of C that B micro-panel jp (packed at bpanel) meets in row block mb.
      // A packed panel (bstride NR), or one read in place (bstride ldb, B's ReLU taken by the kernel).
      auto tiles = [&](int jc, int mb, int jp, const float* bpanel, int bstride, bool packed) {
        const MicroKernel kernel = !packed && ex.relu_b ? g.kernel_relu : g.kernel;
        const int j = jc + jp * NR;
        const int cols = std::min(NR, N - j);
        const int p_end = std::min(m_panels, (mb + 1) * panels_per_block);
        for (int p = mb * panels_per_block; p < p_end; ++p) {
          const int i = p * MR;
          const int rows = std::min(MR, M - i);
          const float* apanel = ap + static_cast<size_t>(p) * MR * kc;
          float* c = C + static_cast<size_t>(i) * ldc + j;
          const float* const tile_bias = bias != nullptr ? bias + i : nullptr;
          const float* const tile_add = addend != nullptr ? addend + static_cast<size_t>(i) * ldc + j : nullptr;
          if (rows == MR && cols == NR) {
            kernel(kc, apanel, bpanel, bstride, c, ldc, b_eff, tile_bias, tile_add);
          } else {
            kernel(kc, apanel, bpanel, bstride, tmp, NR, 0.0f, nullptr, nullptr);
            for (int r = 0; r < rows; ++r)
              for (int q = 0; q < cols; ++q) {
                float& dst = c[static_cast<size_t>(r) * ldc + q];
                float v = b_eff == 0.0f ? tmp[r * NR + q] : b_eff * dst + tmp[r * NR + q];
                if (tile_bias != nullptr) v += tile_bias[r];
                dst = tile_add != nullptr ? v + tile_add[static_cast<size_t>(r) * ldc + q] : v;
              }
          }
        }
      };
      for (int jc = 0; jc < N; jc += NC) {
        const int nc = std::min(NC, N - jc);
        const int n_panels = (nc + NR - 1) / NR;
        if (m_blocks == 1) {
          // One row block (M <= MC: the pointwise convolutions' few output channels): each B
          // micro-panel meets every row of A right after it is packed, so it is packed by the thread
          // that uses it into a buffer that stays in L1, instead of the whole slice of B going
          // through L2 (or memory) between packing and use. The same sums as below.
          thread_local Scratch panel_buf;
          float* const own = panel_buf.get(static_cast<size_t>(KC) * NR);
          static_share(n_panels, t, team, lo, hi);
          for (int p = lo; p < hi; ++p) {
            const int j = jc + p * NR;
            if (in_place && nc - p * NR >= NR) {
              tiles(jc, 0, p, B + static_cast<size_t>(pc) * ldb + j, ldb, false);
              continue;
            }
            pack_b_panel(B, ldb, tb, pc, kc, j, std::min(NR, nc - p * NR), NR, ex.relu_b, own);
            tiles(jc, 0, p, own, NR, true);
          }
        } else {
          static_share(n_panels, t, team, lo, hi);
          for (int p = lo; p < hi; ++p)
            pack_b_panel(B, ldb, tb, pc, kc, jc + p * NR, std::min(NR, nc - p * NR), NR, ex.relu_b,
                         bp + static_cast<size_t>(p) * NR * kc);
          team_barrier(team);
          static_share(m_blocks * n_panels, t, team, lo, hi);
          for (int task = lo; task < hi; ++task)
            tiles(jc, task / n_panels, task % n_panels, bp + static_cast<size_t>(task % n_panels) * NR * kc, NR, true);
        }
        team_barrier(team);  // the B panels (and A's slice) are repacked next
      }
    }
  });
}

// ---- direct A · Bᵀ (AVX-512): C = beta*C + alpha * A[M,K] · B[N,K]ᵀ without packing, for small
// M·N and long K (the weight gradient of a convolution: dW += dY · colᵀ, K = OH*OW). Both operands
// are read along contiguous rows; 4×4 blocks of dot products, 16 lanes each, K in slices of 512 so
// the rows stay in L1/L2. Threads split the row blocks of C. ----

typedef float gv16 __attribute__((vector_size(64)));

template <int BI, int BJ>
__attribute__((target("avx512f,avx512bw,avx512vl,fma"), always_inline)) inline void nt_block(
    int kc, const float* __restrict A, int lda, const float* __restrict B, int ldb, float* __restrict out) {
  gv16 acc[BI][BJ];
  for (int i = 0; i < BI; ++i)
    for (int j = 0; j < BJ; ++j) acc[i][j] = gv16{};
  int k = 0;
  for (; k + 16 <= kc; k += 16) {
    gv16 a[BI], b[BJ];
    for (int i = 0; i < BI; ++i) __builtin_memcpy(&a[i], A + static_cast<size_t>(i) * lda + k, sizeof(gv16));
    for (int j = 0; j < BJ; ++j) __builtin_memcpy(&b[j], B + static_cast<size_t>(j) * ldb + k, sizeof(gv16));
    for (int i = 0; i < BI; ++i)
      for (int j = 0; j < BJ; ++j) acc[i][j] += a[i] * b[j];
  }
  for (int i = 0; i < BI; ++i)
    for (int j = 0; j < BJ; ++j) {
      float sum = 0.0f;
      for (int l = 0; l < 16; ++l) sum += acc[i][j][l];
      for (int kk = k; kk < kc; ++kk) sum += A[static_cast<size_t>(i) * lda + kk] * B[static_cast<size_t>(j) * ldb + kk];
      out[i * BJ + j] = sum;
    }
}

template <int BI, int BJ>
__attribute__((target("avx512f,avx512bw,avx512vl,fma"), always_inline)) inline void nt_tile(
    int i, int j, int k0, int kc, float alpha, const float* A, int lda, const float* B, int ldb, float beta, float* C,
    int ldc) {
  float sums[BI * BJ];
  nt_block<BI, BJ>(kc, A + static_cast<size_t>(i) * lda + k0, lda, B + static_cast<size_t>(j) * ldb + k0, ldb, sums);
  for (int a = 0; a < BI; ++a)
    for (int b = 0; b < BJ; ++b) {
      float& c = C[static_cast<size_t>(i + a) * ldc + j + b];
      c = (beta == 0.0f ? 0.0f : beta * c) + alpha * sums[a * BJ + b];
    }
}

__attribute__((target("avx512f,avx512bw,avx512vl,fma"))) void gemm_nt_rows_avx512(int i_lo, int i_hi, int N, int K,
                                                                                  float alpha, const float* A,
                                                                                  int lda, const float* B, int ldb,
                                                                                  float beta, float* C, int ldc) {
  constexpr int KS = 512;
  for (int k0 = 0; k0 < K; k0 += KS) {
    const int kc = std::min(KS, K - k0);
    const float b_eff = k0 == 0 ? beta : 1.0f;
    int i = i_lo;
    for (; i + 4 <= i_hi; i += 4) {
      int j = 0;
      for (; j + 4 <= N; j += 4) nt_tile<4, 4>(i, j, k0, kc, alpha, A, lda, B, ldb, b_eff, C, ldc);
      for (; j < N; ++j) nt_tile<4, 1>(i, j, k0, kc, alpha, A, lda, B, ldb, b_eff, C, ldc);
    }
    for (; i < i_hi; ++i) {
      int j = 0;
      for (; j + 4 <= N; j += 4) nt_tile<1, 4>(i, j, k0, kc, alpha, A, lda, B, ldb, b_eff, C, ldc);
      for (; j < N; ++j) nt_tile<1, 1>(i, j, k0, kc, alpha, A, lda, B, ldb, b_eff, C, ldc);
    }
  }
}

void gemm_nt_direct(int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb, float beta,
                    float* C, int ldc, int threads) {
  const int blocks = (M + 3) / 4;
  parallel_team(threads, [&](int t, int team) {
    const int lo = std::min(M, blocks * t / team * 4), hi = std::min(M, blocks * (t + 1) / team * 4);
    if (lo < hi) gemm_nt_rows_avx512(lo, hi, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  });
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
           int ldb, float beta, float* C, int ldc) {
  int threads = kernel_threads();
  // Below ~0.1 MFLOP a fork/join costs more than it saves.
  if (static_cast<double>(M) * N * K < 65536.0) threads = 1;
  const SimdLevel level = active_simd();
  // A · Bᵀ with a small C and a long K: packing would cost as much as the product (measured: faster
  // from K = 512 on, e.g. conv weight gradients at 32×32; slower than packing at K = 256, M = N = 128).
  if (level == SimdLevel::kAvx512 && !trans_a && trans_b && K >= 512 && static_cast<double>(M) * N <= 65536.0 &&
      M > 0 && N > 0 && alpha != 0.0f) {
    gemm_nt_direct(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, threads);
    return;
  }
  gemm_driver(config_for(level), trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, threads, nullptr,
              PackedGemmExtras{});
}

int sgemm_in_place_ld(int n) {
  const int lines = (std::max(n, 1) + 15) / 16;  // 64-byte lines of floats
  return 16 * (lines % 2 == 1 ? lines : lines + 1);
}

size_t sgemm_packed_a_floats(int M, int K) {
  const GemmConfig& g = config_for(active_simd());
  return K <= 0 ? 0 : packed_slice_offset(g, M, K);
}

void sgemm_pack_a(bool trans_a, int M, int K, float alpha, const float* A, int lda, float* packed) {
  const GemmConfig& g = config_for(active_simd());
  const int m_panels = (M + g.MR - 1) / g.MR;
  for (int pc = 0; pc < K; pc += g.KC) {
    const int kc = std::min(g.KC, K - pc);
    float* slice = packed + packed_slice_offset(g, M, pc);
    for (int p = 0; p < m_panels; ++p)
      pack_a_panel(A, lda, trans_a, p * g.MR, std::min(g.MR, M - p * g.MR), pc, kc, alpha, g.MR,
                   slice + static_cast<size_t>(p) * g.MR * kc);
  }
}

void sgemm_packed(const float* packed_a, bool trans_b, int M, int N, int K, const float* B, int ldb, float beta,
                  float* C, int ldc, const PackedGemmExtras& extras) {
  int threads = kernel_threads();
  if (static_cast<double>(M) * N * K < 65536.0) threads = 1;
  gemm_driver(config_for(active_simd()), false, trans_b, M, N, K, 1.0f, nullptr, 0, B, ldb, beta, C, ldc, threads,
              packed_a, extras);
}

void linear_forward(int M, int I, int O, const float* x, const float* w, const float* b, float* y) {
  // y[M,O] = x[M,I] · w[O,I]ᵀ
  sgemm(false, true, M, O, I, 1.0f, x, I, w, I, 0.0f, y, O);
  if (b != nullptr)
    for (int m = 0; m < M; ++m)
      for (int o = 0; o < O; ++o) y[static_cast<size_t>(m) * O + o] += b[o];
}

void linear_backward(int M, int I, int O, const float* x, const float* w, const float* dy, float* dx, float* dw,
                     float* db) {
  // dx[M,I] = dy[M,O] · w[O,I]
  if (dx != nullptr) sgemm(false, false, M, I, O, 1.0f, dy, O, w, I, 0.0f, dx, I);
  // dw[O,I] += dy[M,O]ᵀ · x[M,I]
  if (dw != nullptr) sgemm(true, false, O, I, M, 1.0f, dy, O, x, I, 1.0f, dw, I);
  if (db != nullptr)
    for (int o = 0; o < O; ++o) {
      double s = 0.0;
      for (int m = 0; m < M; ++m) s += dy[static_cast<size_t>(m) * O + o];
      db[o] += static_cast<float>(s);
    }
}

}  // namespace nasnet::cpu
