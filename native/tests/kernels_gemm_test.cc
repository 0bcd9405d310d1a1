// sgemm and the dense layer against double-precision references, at every SIMD level.
// Tolerances: fp32 products summed in fp32 over K terms vs an fp64 reference: the error grows like
// K * eps * |a||b| in the worst case, so atol = 2e-6 * K (entries in [-1, 1]) and rtol 1e-4.
#include <algorithm>
#include <cstring>
#include <limits>

#include "core/nan.h"
#include "cpu/kernels.h"
#include "tests/kernels_util.h"

using namespace nasnet;
using namespace nasnet::test;

namespace {

struct GemmCase {
  int M, N, K;
  int pad;  // extra row stride on A, B, C (lda etc. larger than the logical width)
};

// C = alpha op(A) op(B) + beta C in double.
std::vector<double> ref_gemm(bool ta, bool tb, int M, int N, int K, double alpha, const std::vector<float>& A, int lda,
                             const std::vector<float>& B, int ldb, double beta, const std::vector<float>& C, int ldc) {
  std::vector<double> out(C.begin(), C.end());
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double s = 0;
      for (int k = 0; k < K; ++k)
        s += static_cast<double>(ta ? A[static_cast<size_t>(k) * lda + i] : A[static_cast<size_t>(i) * lda + k]) *
             (tb ? B[static_cast<size_t>(j) * ldb + k] : B[static_cast<size_t>(k) * ldb + j]);
      double c = beta == 0.0 ? 0.0 : beta * C[static_cast<size_t>(i) * ldc + j];
      out[static_cast<size_t>(i) * ldc + j] = alpha * s + c;
    }
  return out;
}

void run_case(const GemmCase& g, bool ta, bool tb, float alpha, float beta, uint32_t seed) {
  const int lda = (ta ? g.M : g.K) + g.pad, ldb = (tb ? g.K : g.N) + g.pad, ldc = g.N + g.pad;
  const int a_rows = ta ? g.K : g.M, b_rows = tb ? g.N : g.K;
  std::vector<float> A = random_vec(static_cast<size_t>(a_rows) * lda, seed);
  std::vector<float> B = random_vec(static_cast<size_t>(b_rows) * ldb, seed + 1);
  std::vector<float> C0 = random_vec(static_cast<size_t>(g.M) * ldc, seed + 2);
  std::vector<float> Cin = C0;
  // beta == 0 must ignore C entirely, even NaN (BLAS semantics).
  if (beta == 0.0f)
    for (float& v : Cin) v = std::numeric_limits<float>::quiet_NaN();
  std::vector<double> ref = ref_gemm(ta, tb, g.M, g.N, g.K, alpha, A, lda, B, ldb, beta, C0, ldc);
  // padding columns of C must stay untouched
  if (beta == 0.0f)
    for (int i = 0; i < g.M; ++i)
      for (int j = g.N; j < ldc; ++j) ref[static_cast<size_t>(i) * ldc + j] = std::numeric_limits<double>::quiet_NaN();
  for_each_simd([&](SimdLevel level) {
    std::vector<float> C = Cin;
    cpu::sgemm(ta, tb, g.M, g.N, g.K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
    char what[160];
    std::snprintf(what, sizeof what, "%s M=%d N=%d K=%d ta=%d tb=%d alpha=%g beta=%g", simd_level_name(level), g.M,
                  g.N, g.K, ta, tb, alpha, beta);
    int bad = 0;
    for (int i = 0; i < g.M; ++i)
      for (int j = 0; j < ldc; ++j) {
        size_t q = static_cast<size_t>(i) * ldc + j;
        double r = ref[q], v = C[q];
        bool ok = std::isnan(r) ? std::isnan(v) : std::fabs(v - r) <= 2e-6 * g.K + 1e-4 * std::fabs(r);
        if (!ok && bad++ < 5) std::printf("  %s: C[%d,%d] = %.9g, ref %.9g\n", what, i, j, v, r);
      }
    if (bad > 0) ++failures();
  });
}

}  // namespace

NASNET_TEST(kernels_gemm_all_transposes_edges_and_levels) {
  const GemmCase cases[] = {{1, 1, 1, 0},   {7, 13, 5, 3},    {33, 65, 17, 0}, {15, 33, 400, 1},
                            {130, 45, 129, 2}, {29, 97, 800, 0}, {3, 4200, 5, 0},
                            {9, 10, 1031, 1}};  // K=1031: the direct A·Bᵀ path with a K tail
  uint32_t seed = 10;
  for (const GemmCase& g : cases)
    for (int t = 0; t < 4; ++t) {
      run_case(g, t & 1, t & 2, 1.0f, 0.0f, seed++);
      run_case(g, t & 1, t & 2, 0.7f, -0.5f, seed++);
    }
  run_case({64, 64, 64, 0}, false, false, 1.0f, 1.0f, seed++);
}

NASNET_TEST(kernels_gemm_multithreaded_large_is_deterministic) {
  // Large enough for several MC blocks, several K slices and both threads.
  const int M = 260, N = 300, K = 900;
  std::vector<float> A = random_vec(static_cast<size_t>(M) * K, 1), B = random_vec(static_cast<size_t>(K) * N, 2);
  std::vector<double> ref = ref_gemm(false, false, M, N, K, 1.0, A, K, B, N, 0.0, std::vector<float>(M * N), N);
  for_each_simd([&](SimdLevel level) {
    std::vector<float> C1(M * N), C2(M * N);
    cpu::sgemm(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C1.data(), N);
    cpu::sgemm(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C2.data(), N);
    all_close(simd_level_name(level), C1, ref, 1e-4, 2e-6 * K);
    EXPECT_TRUE(std::memcmp(C1.data(), C2.data(), sizeof(float) * C1.size()) == 0);
  });
}

NASNET_TEST(kernels_gemm_alpha_zero_and_k_zero_scale_c) {
  std::vector<float> C = {1, 2, 3, 4};
  float dummy = 0;
  cpu::sgemm(false, false, 2, 2, 0, 1.0f, &dummy, 1, &dummy, 2, 2.0f, C.data(), 2);
  EXPECT_NEAR(C[3], 8.0, 0);
  cpu::sgemm(false, false, 2, 2, 1, 0.0f, &dummy, 1, &dummy, 2, 0.0f, C.data(), 2);
  EXPECT_NEAR(C[0], 0.0, 0);
}

NASNET_TEST(kernels_linear_forward_backward_finite_differences) {
  // y[M,O] = x[M,I] w[O,I]^T + b; objective L = sum(dy * y). Linear in each input, so central
  // differences in double are exact up to rounding: gradients checked at rtol 1e-3 (fp32 kernel).
  const int M = 5, I = 37, O = 11;
  std::vector<float> x = random_vec(M * I, 3), w = random_vec(O * I, 4), b = random_vec(O, 5), dy = random_vec(M * O, 6);
  std::vector<double> xd = to_double(x), wd = to_double(w), bd = to_double(b);
  auto forward = [&](std::vector<double>& y) {
    y.assign(M * O, 0.0);
    for (int m = 0; m < M; ++m)
      for (int o = 0; o < O; ++o) {
        double s = bd[o];
        for (int i = 0; i < I; ++i) s += xd[m * I + i] * wd[o * I + i];
        y[m * O + o] = s;
      }
  };
  auto objective = [&]() {
    std::vector<double> y;
    forward(y);
    double L = 0;
    for (int q = 0; q < M * O; ++q) L += dy[q] * y[q];
    return L;
  };
  std::vector<double> yref;
  forward(yref);
  for_each_simd([&](SimdLevel level) {
    std::vector<float> y(M * O);
    cpu::linear_forward(M, I, O, x.data(), w.data(), b.data(), y.data());
    all_close("linear y", y, yref, 1e-4, 1e-5 * I);
    std::vector<float> dx(M * I), dw0 = random_vec(O * I, 7), db0 = random_vec(O, 8);
    std::vector<float> dw = dw0, db = db0;
    cpu::linear_backward(M, I, O, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
    std::vector<size_t> ix = sample_indices(M * I, 1000, 1), iw = sample_indices(O * I, 1000, 2),
                        ib = sample_indices(O, 100, 3);
    std::vector<double> gx = numeric_grad(xd, ix, objective), gw = numeric_grad(wd, iw, objective),
                        gb = numeric_grad(bd, ib, objective);
    // dw, db accumulate onto their previous contents
    for (size_t k = 0; k < iw.size(); ++k) gw[k] += dw0[iw[k]];
    for (size_t k = 0; k < ib.size(); ++k) gb[k] += db0[ib[k]];
    all_close("linear dx", pick(dx, ix), gx, 1e-3, 1e-5);
    all_close("linear dw (+=)", pick(dw, iw), gw, 1e-3, 1e-5);
    all_close("linear db (+=)", pick(db, ib), gb, 1e-3, 1e-5);
  });
}

NASNET_TEST(kernels_gemm_prepacked_a_matches_sgemm_bit_for_bit) {
  // sgemm_pack_a once, sgemm_packed for several B: the same floats as sgemm (same micro-kernels in the
  // same order), for both transposes of A and B, edges in M, several K slices (K = 800 > KC) and
  // beta 0 (ignoring NaN in C) and non-zero. The direct A·Bᵀ path of sgemm (AVX-512, K >= 512, small
  // C) sums in another order: there the packed product is checked against the reference.
  const GemmCase cases[] = {{7, 13, 5, 3}, {33, 65, 17, 0}, {130, 45, 129, 2}, {29, 97, 800, 1}, {64, 1024, 32, 0}};
  uint32_t seed = 500;
  for (const GemmCase& g : cases)
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const int lda = (ta ? g.M : g.K) + g.pad, ldb = (tb ? g.K : g.N) + g.pad, ldc = g.N + g.pad;
      const std::vector<float> A = random_vec(static_cast<size_t>(ta ? g.K : g.M) * lda, seed++);
      for_each_simd([&](SimdLevel level) {
        std::vector<float> packed(cpu::sgemm_packed_a_floats(g.M, g.K));
        cpu::sgemm_pack_a(ta, g.M, g.K, 0.7f, A.data(), lda, packed.data());
        for (int image = 0; image < 2; ++image) {
          const float beta = image == 0 ? 0.0f : -0.5f;
          const std::vector<float> B = random_vec(static_cast<size_t>(tb ? g.N : g.K) * ldb, seed++);
          const std::vector<float> C0 = random_vec(static_cast<size_t>(g.M) * ldc, seed++);
          std::vector<float> Cin = C0;
          if (beta == 0.0f)
            for (float& v : Cin) v = std::numeric_limits<float>::quiet_NaN();
          std::vector<float> C1 = Cin, C2 = Cin;
          cpu::sgemm(ta, tb, g.M, g.N, g.K, 0.7f, A.data(), lda, B.data(), ldb, beta, C1.data(), ldc);
          cpu::sgemm_packed(packed.data(), tb, g.M, g.N, g.K, B.data(), ldb, beta, C2.data(), ldc);
          const bool direct = level == SimdLevel::kAvx512 && !ta && tb && g.K >= 512;
          char what[160];
          std::snprintf(what, sizeof what, "packed %s M=%d N=%d K=%d ta=%d tb=%d", simd_level_name(level), g.M, g.N,
                        g.K, ta, tb);
          if (!direct) {
            EXPECT_TRUE(std::memcmp(C1.data(), C2.data(), sizeof(float) * C1.size()) == 0);
            continue;
          }
          std::vector<double> ref = ref_gemm(ta, tb, g.M, g.N, g.K, 0.7, A, lda, B, ldb, beta, C0, ldc);
          std::vector<float> got, close;
          std::vector<double> want;
          for (int i = 0; i < g.M; ++i)
            for (int j = 0; j < g.N; ++j) {
              got.push_back(C2[static_cast<size_t>(i) * ldc + j]);
              want.push_back(ref[static_cast<size_t>(i) * ldc + j]);
            }
          all_close(what, got, want, 1e-4, 2e-6 * g.K);
        }
      });
    }
}

NASNET_TEST(kernels_gemm_packed_extras_match_separate_passes) {
  // sgemm_packed with relu_b (B read as relu_value(B) while it is packed), row_bias and an addend
  // (added as tiles are stored) against the plain product on a ReLU'd copy of B followed by a bias
  // pass and an add pass: the same floats, NaN where NaN. B holds negatives, -0 and NaN; edges in M
  // and N, K over one KC slice and several, both transposes of B, beta 0 and not, and K = 0 (C
  // scaled, then the bias and the addend).
  const GemmCase cases[] = {{7, 13, 5, 3}, {33, 65, 17, 0}, {16, 96, 800, 1}, {32, 1024, 32, 0}, {9, 40, 0, 2}};
  uint32_t seed = 900;
  for (const GemmCase& g : cases)
    for (int tb = 0; tb < 2; ++tb)
      for (int use_beta = 0; use_beta < 2; ++use_beta) {
        const int lda = g.K + g.pad, ldb = (tb ? g.K : g.N) + g.pad, ldc = g.N + g.pad;
        const std::vector<float> A = random_vec(static_cast<size_t>(g.M) * std::max(lda, 1), seed++);
        std::vector<float> B = random_vec(static_cast<size_t>(tb ? g.N : std::max(g.K, 1)) * ldb, seed++);
        for (size_t i = 0; i < B.size(); i += 17) B[i] = -0.0f;
        for (size_t i = 5; i < B.size(); i += 97) B[i] = std::numeric_limits<float>::quiet_NaN();
        std::vector<float> relu_b = B;
        for (float& v : relu_b) v = relu_value(v);
        const std::vector<float> bias = random_vec(static_cast<size_t>(g.M), seed++);
        const std::vector<float> addend = random_vec(static_cast<size_t>(g.M) * ldc, seed++);
        const std::vector<float> C0 = random_vec(static_cast<size_t>(g.M) * ldc, seed++);
        const float beta = use_beta != 0 ? 0.75f : 0.0f;
        for_each_simd([&](SimdLevel level) {
          std::vector<float> packed(std::max<size_t>(cpu::sgemm_packed_a_floats(g.M, g.K), 1));
          cpu::sgemm_pack_a(false, g.M, g.K, 1.0f, A.data(), lda, packed.data());
          std::vector<float> want = C0, got = C0;
          cpu::sgemm_packed(packed.data(), tb != 0, g.M, g.N, g.K, relu_b.data(), ldb, beta, want.data(), ldc);
          for (int i = 0; i < g.M; ++i)
            for (int j = 0; j < g.N; ++j) {
              const size_t q = static_cast<size_t>(i) * ldc + j;
              want[q] += bias[static_cast<size_t>(i)];
              want[q] += addend[q];
            }
          cpu::sgemm_packed(packed.data(), tb != 0, g.M, g.N, g.K, B.data(), ldb, beta, got.data(), ldc,
                            cpu::PackedGemmExtras{true, bias.data(), addend.data()});
          char what[96];
          std::snprintf(what, sizeof what, "%s M=%d N=%d K=%d tb=%d beta=%g: C", simd_level_name(level), g.M, g.N,
                        g.K, tb, beta);
          same_floats(what, got, want);
        });
      }
}

NASNET_TEST(kernels_gemm_b_read_in_place_matches_packed) {
  // The same B twice: rows a multiple of 2 KiB apart (its micro-panels packed) and rows
  // sgemm_in_place_ld(N) apart (full panels read in place by the micro-kernel, which then also takes
  // relu_b): bit for bit the same C, through sgemm_packed with every extra (relu_b with -0 and NaN in
  // B, row_bias, addend) and without, and through sgemm; edges in M and N (a partial last panel is
  // packed either way), K over one KC slice and two, beta 0 and not, every SIMD level.
  const GemmCase cases[] = {{32, 1024, 32, 0}, {33, 100, 70, 0}, {64, 256, 400, 0}, {8, 64, 5, 0}, {130, 96, 24, 0}};
  uint32_t seed = 1300;
  for (const GemmCase& g : cases) {
    const int ld_packed = (g.N + 511) / 512 * 512, ld_in_place = cpu::sgemm_in_place_ld(g.N), ldc = g.N;
    EXPECT_TRUE(ld_in_place % 512 != 0 && ld_in_place >= g.N && (ld_in_place / 16) % 2 == 1);
    const std::vector<float> A = random_vec(static_cast<size_t>(g.M) * g.K, seed++);
    std::vector<float> b_packed(static_cast<size_t>(g.K) * ld_packed), b_in_place(static_cast<size_t>(g.K) * ld_in_place);
    const std::vector<float> values = random_vec(static_cast<size_t>(g.K) * g.N, seed++);
    for (int k = 0; k < g.K; ++k)
      for (int j = 0; j < g.N; ++j) {
        float v = values[static_cast<size_t>(k) * g.N + j];
        if ((k + j) % 13 == 0) v = -0.0f;
        if ((k * 7 + j) % 89 == 0) v = std::numeric_limits<float>::quiet_NaN();
        b_packed[static_cast<size_t>(k) * ld_packed + j] = b_in_place[static_cast<size_t>(k) * ld_in_place + j] = v;
      }
    const std::vector<float> bias = random_vec(static_cast<size_t>(g.M), seed++);
    const std::vector<float> addend = random_vec(static_cast<size_t>(g.M) * ldc, seed++);
    const std::vector<float> C0 = random_vec(static_cast<size_t>(g.M) * ldc, seed++);
    for_each_simd([&](SimdLevel level) {
      std::vector<float> packed_a(cpu::sgemm_packed_a_floats(g.M, g.K));
      cpu::sgemm_pack_a(false, g.M, g.K, 1.0f, A.data(), g.K, packed_a.data());
      for (int variant = 0; variant < 6; ++variant) {
        const float beta = variant % 2 == 1 ? 0.75f : 0.0f;
        const bool extras = variant / 2 == 1, plain = variant / 2 == 2;
        const cpu::PackedGemmExtras ex = extras ? cpu::PackedGemmExtras{true, bias.data(), addend.data()} : cpu::PackedGemmExtras{};
        std::vector<float> want = C0, got = C0;
        if (plain) {
          cpu::sgemm(false, false, g.M, g.N, g.K, 1.0f, A.data(), g.K, b_packed.data(), ld_packed, beta, want.data(), ldc);
          cpu::sgemm(false, false, g.M, g.N, g.K, 1.0f, A.data(), g.K, b_in_place.data(), ld_in_place, beta, got.data(), ldc);
        } else {
          cpu::sgemm_packed(packed_a.data(), false, g.M, g.N, g.K, b_packed.data(), ld_packed, beta, want.data(), ldc, ex);
          cpu::sgemm_packed(packed_a.data(), false, g.M, g.N, g.K, b_in_place.data(), ld_in_place, beta, got.data(), ldc, ex);
        }
        char what[96];
        std::snprintf(what, sizeof what, "%s M=%d N=%d K=%d variant %d: C (against packed)", simd_level_name(level),
                      g.M, g.N, g.K, variant);
        same_floats(what, got, want);
      }
    });
  }
}
