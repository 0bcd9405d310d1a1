// The CUDA tiled GEMM (native/cuda/gemm_tile.h) run on the host block by block and thread by thread
// — every thread's tile load, then every thread's multiply-add, per 16-deep K step, as the kernel does
// between its two barriers — for sgemm (all transposes, strided, alpha/beta, beta = 0 with NaN in C)
// and for the three convolution products, against the CPU kernels. Runs without a device.
// Tolerance atol = rtol = 1e-4 (float sums in another order over at most a few hundred terms <= 1).
#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include "core/random.h"
#include "cpu/kernels.h"
#include "cuda/conv_gemm_ops.h"
#include "cuda/gemm_tile.h"
#include "tests/kernels_util.h"
#include "tests/test.h"

namespace {

namespace cu = nasnet::cuda;
namespace cpu = nasnet::cpu;

// gemm_tiled_kernel over the grid launch_gemm would launch.
template <class Op>
void run_tiled(const Op& op, int M, int N, int K, int batches, int splits = 1, int k_chunk = 0) {
  if (k_chunk <= 0) k_chunk = K;
  auto tiles = std::make_unique<cu::GemmTiles>();
  std::vector<float> acc(cu::kGemmThreads * 16);
  auto acc_of = [&](int tid) { return reinterpret_cast<float(*)[4]>(&acc[tid * 16]); };
  for (int bz = 0; bz < batches * splits; ++bz)
    for (int by = 0; by < (M + cu::kTileM - 1) / cu::kTileM; ++by)
      for (int bx = 0; bx < (N + cu::kTileN - 1) / cu::kTileN; ++bx) {
        const int z = bz / splits, split = bz % splits, m0 = by * cu::kTileM, n0 = bx * cu::kTileN;
        int k0, k1;
        cu::gemm_k_range(K, split, k_chunk, &k0, &k1);
        std::fill(acc.begin(), acc.end(), 0.f);
        for (int kt = k0; kt < k1; kt += cu::kTileK) {
          for (int tid = 0; tid < cu::kGemmThreads; ++tid) cu::gemm_load(op, *tiles, tid, z, m0, n0, kt, k1, M, N);
          for (int tid = 0; tid < cu::kGemmThreads; ++tid) cu::gemm_fma(*tiles, tid, acc_of(tid));
        }
        for (int tid = 0; tid < cu::kGemmThreads; ++tid) cu::gemm_store(op, tid, z, split, m0, n0, M, N, acc_of(tid));
      }
}

std::vector<float> rnd(size_t n, uint64_t seed) { return nasnet::test::counter_random(n, seed, 17); }

void close(const char* what, const std::vector<float>& got, const std::vector<float>& ref) { nasnet::test::all_close(what, got, ref, 1e-4, 1e-4); }

cpu::ConvShape shape(int N, int C, int H, int W, int K, int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr,
                     int dh, int dw, int groups) {
  cpu::ConvShape s{N, C, H, W, K, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, groups, 0, 0};
  s.OH = (H + pt + pb - dh * (kh - 1) - 1) / sh + 1;
  s.OW = (W + pl + pr - dw * (kw - 1) - 1) / sw + 1;
  return s;
}

}  // namespace

NASNET_TEST(cuda_gemm_tile_sgemm_matches_cpu_on_host) {
  const int dims[2][3] = {{37, 45, 70}, {130, 70, 33}};
  for (const auto& d : dims) {
    const int M = d[0], N = d[1], K = d[2];
    for (int t = 0; t < 4; ++t) {
      bool ta = t & 1, tb = t & 2;
      int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
      auto A = rnd((size_t)(ta ? K : M) * lda, 10 + t), B = rnd((size_t)(tb ? N : K) * ldb, 20 + t),
           C = rnd((size_t)M * ldc, 30 + t);
      std::vector<float> ref = C, got = C;
      cpu::sgemm(ta, tb, M, N, K, 1.5f, A.data(), lda, B.data(), ldb, 0.5f, ref.data(), ldc);
      run_tiled(cu::SgemmOp{ta, tb, A.data(), lda, B.data(), ldb, 1.5f, 0.5f, got.data(), ldc}, M, N, K, 1);
      close(ta ? (tb ? "sgemm TT" : "sgemm TN") : (tb ? "sgemm NT" : "sgemm NN"), got, ref);
    }
  }
  std::vector<float> A = rnd(6 * 5, 1), B = rnd(5 * 7, 2), got(6 * 7, NAN), ref(6 * 7, 0.f);
  cpu::sgemm(false, false, 6, 7, 5, 1.f, A.data(), 5, B.data(), 7, 0.f, ref.data(), 7);
  run_tiled(cu::SgemmOp{false, false, A.data(), 5, B.data(), 7, 1.f, 0.f, got.data(), 7}, 6, 7, 5, 1);
  close("sgemm beta=0 over NaN", got, ref);
}

NASNET_TEST(cuda_gemm_tile_conv_matches_cpu_on_host) {
  for (const auto& s : {shape(2, 6, 9, 11, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),
                        shape(2, 8, 7, 7, 12, 5, 3, 1, 2, 2, 1, 2, 1, 1, 1, 4),
                        shape(8, 4, 32, 32, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1)}) {
    size_t nx = (size_t)s.N * s.C * s.H * s.W, nw = (size_t)s.K * (s.C / s.groups) * s.kh * s.kw,
           ny = (size_t)s.N * s.K * s.OH * s.OW;
    auto x = rnd(nx, 1), w = rnd(nw, 2), b = rnd(s.K, 3), dy = rnd(ny, 4), dw0 = rnd(nw, 5);
    std::vector<float> y(ny), dx(nx), dw = dw0;
    cpu::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
    cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), nullptr);
    const cu::ConvDims d = cu::dims_of(s);
    std::vector<float> gy(ny, NAN), gdx(nx, NAN), gdw = dw0;
    run_tiled(cu::ConvForwardOp{d, x.data(), w.data(), b.data(), gy.data()}, d.Kg, s.N * s.OH * s.OW, d.R, s.groups);
    run_tiled(cu::ConvBackwardDataOp{d, w.data(), dy.data(), gdx.data()}, d.Cg, s.N * s.H * s.W, d.Kg * d.khw,
              s.groups);
    int splits = 1, chunk = 0;
    cu::filter_splits(s, &splits, &chunk);
    const int reduce = s.N * s.OH * s.OW;
    std::vector<float> part(nw * splits, NAN);
    run_tiled(cu::ConvBackwardFilterOp{d, s.groups, x.data(), dy.data(), gdw.data(), splits > 1 ? part.data() : nullptr},
              d.Kg, d.R, reduce, s.groups, splits, chunk);
    if (splits > 1)
      for (size_t i = 0; i < nw; ++i) {
        float acc = 0.f;
        for (int sp = 0; sp < splits; ++sp) acc += part[(size_t)sp * nw + i];
        gdw[i] += acc;
      }
    std::printf("  N=%d C=%d %dx%d K=%d g=%d: filter splits %d\n", s.N, s.C, s.H, s.W, s.K, s.groups, splits);
    close("tiled conv y", gy, y);
    close("tiled conv dx", gdx, dx);
    close("tiled conv dw", gdw, dw);
  }
}
