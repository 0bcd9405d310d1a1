// The fused separable unit: [ReLU →] [depthwise →] pointwise → BatchNormalization (kernels.h).
// N = batch, C = input channels, K = output channels, HW = H * W, OHW = OH * OW.
//
// Forward (training), each thread takes whole images n:
//   t[n] = depthwise(relu(x[n])) (kept: the pointwise weight gradient needs it; the ReLU taken as
//   each plane is read, never written out), z[n] = w_pw · t[n] (kept: BN backward needs it; without
//   a depthwise, the GEMM takes the ReLU of x[n] as it packs it) and, while z[n] is in cache, each
//   channel's mean and squared deviation over the image. Then the per-image statistics are merged
//   per channel in image order, the running statistics updated, and y normalized from z.
// Forward (inference): BN folded into the pointwise weights and packed for the GEMM (prepared: by
//   the plan when its parameters change, or on every call), y[n] = w_folded · t[n] + shift, the
//   shift added as the GEMM stores its tiles (then a residual, when the unit runs an Add as its
//   epilogue: y = that + residual, the same floats as the Add); t[n] in scratch with its rows
//   sgemm_in_place_ld apart, so the GEMM reads it without packing; whole images per thread, or, with
//   fewer images than threads (batch 1), one image at a time split over the threads in one parallel
//   region.
// Backward, after one pass over (dy, z) for the per-channel sums of BN backward, each thread takes
//   whole images again: dz (BN backward, scratch), dw_pw += dz · t[n]ᵀ, dt = w_pwᵀ · dz (scratch),
//   depthwise backward of dt against r = relu(x[n]) (recomputed), and the ReLU mask applied to dx.
// Against the unfused chain this skips writing and re-reading r, dr, dt and dz for the whole batch
// and one pass over z for the statistics: fewer bytes through memory and a smaller arena.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/nan.h"
#include "cpu/bn_loops.h"
#include "cpu/depthwise.h"
#include "cpu/dispatch.h"
#include "cpu/elementwise.h"
#include "cpu/kernels.h"
#include "cpu/scratch.h"

namespace nasnet::cpu {
namespace {

size_t in_plane(const FusedConvBnShape& s) { return static_cast<size_t>(s.H) * s.W; }
size_t out_plane(const FusedConvBnShape& s) { return static_cast<size_t>(s.OH) * s.OW; }

// The ReLU of one image into r (same rule as relu_forward: negatives become 0, NaN stays NaN).
void relu_image(const FusedConvBnShape& s, const float* xn, float* r) {
  relu_range(static_cast<size_t>(s.C) * in_plane(s), xn, r);
}

// The pointwise stage's input for image n, C rows of OHW floats `ld` apart, and whether the GEMM still
// takes its ReLU as it packs it: x[n] with the ReLU left to the GEMM (pointwise only; ld = OHW), or
// the depthwise output of relu(x[n]) written to tn, its planes t_ld floats apart (the ReLU taken as
// each plane is read). Neither writes relu(x[n]) out.
struct PointwiseInput {
  const float* data;
  int ld;
  bool relu;
};
PointwiseInput pointwise_input(const FusedConvBnShape& s, const float* xn, const float* w_dw, float* tn, size_t t_ld,
                               float* pad) {
  const size_t HW = in_plane(s);
  if (!s.has_depthwise) return {xn, static_cast<int>(out_plane(s)), s.relu_in};
  depthwise_forward_planes(s.dw, s.C, xn, HW, w_dw, nullptr, tn, t_ld, pad, s.relu_in);
  return {tn, static_cast<int>(t_ld), false};
}

// The plane stride of an inference unit's depthwise output (scratch, read once by the GEMM): rows
// that the GEMM reads in place, without packing (sgemm_in_place_ld).
size_t scratch_t_ld(const FusedConvBnShape& s) {
  return static_cast<size_t>(sgemm_in_place_ld(static_cast<int>(out_plane(s))));
}

// Per-thread scratch of one image's forward stages.
struct ImageScratch {
  float* t = nullptr;    // depthwise output when it is not kept (inference): C planes t_ld apart
  size_t t_ld = 0;
  float* pad = nullptr;  // depthwise padded plane
};

ImageScratch image_scratch(const FusedConvBnShape& s, bool need_t, Scratch& t_buf, Scratch& pad_buf) {
  ImageScratch sc;
  if (s.has_depthwise) {
    sc.pad = pad_buf.get(depthwise_plane_scratch_floats(s.dw));
    if (need_t) {
      sc.t_ld = scratch_t_ld(s);
      sc.t = t_buf.get(static_cast<size_t>(s.C) * sc.t_ld);
    }
  }
  return sc;
}

}  // namespace

void fused_conv_bn_forward_train(const FusedConvBnShape& s, const float* x, const float* w_dw, const float* w_pw,
                                 const float* gamma, const float* beta, float eps, float momentum, float* running_mean,
                                 float* running_var, float* t, float* z, float* y, float* save_mean,
                                 float* save_invstd) {
  const size_t HW = in_plane(s), OHW = out_plane(s);
  const int N = s.N, C = s.C, K = s.K;
  thread_local std::vector<double> stats;
  stats.resize(2 * static_cast<size_t>(N) * K);
  double* image_mean = stats.data();
  double* image_m2 = image_mean + static_cast<size_t>(N) * K;
  // The pointwise weights packed once for every image's GEMM.
  thread_local Scratch w_packed_buf;
  float* const w_packed = w_packed_buf.get(sgemm_packed_a_floats(K, C));
  sgemm_pack_a(false, K, C, 1.0f, w_pw, C, w_packed);
#pragma omp parallel num_threads(kernel_threads())
  {
    thread_local Scratch t_buf, pad_buf;
    const ImageScratch sc = image_scratch(s, false, t_buf, pad_buf);
#pragma omp for schedule(static)
    for (int n = 0; n < N; ++n) {
      float* tn = s.has_depthwise ? t + static_cast<size_t>(n) * C * OHW : nullptr;
      const PointwiseInput in = pointwise_input(s, x + static_cast<size_t>(n) * C * HW, w_dw, tn, OHW, sc.pad);
      float* zn = z + static_cast<size_t>(n) * K * OHW;
      sgemm_packed(w_packed, false, K, static_cast<int>(OHW), C, in.data, in.ld, 0.0f, zn,
                   static_cast<int>(OHW), PackedGemmExtras{in.relu, nullptr});
      for (int k = 0; k < K; ++k) {
        const float* p = zn + static_cast<size_t>(k) * OHW;
        const double mean = static_cast<double>(bn_plane_sum(OHW, p)) / static_cast<double>(OHW);
        const float mf = static_cast<float>(mean);
        const float ssd = bn_plane_sq_dev(OHW, p, mf);
        // Deviations were taken from the rounded mean mf: correct to the exact one.
        const double off = mean - static_cast<double>(mf);
        image_mean[static_cast<size_t>(n) * K + k] = mean;
        // Clamped at 0 against rounding; a NaN stays NaN (std::max(0.0, NaN) would be 0).
        const double m2 = ssd - static_cast<double>(OHW) * off * off;
        image_m2[static_cast<size_t>(n) * K + k] = m2 < 0.0 ? 0.0 : m2;
      }
    }
  }
  thread_local std::vector<float> mul;
  mul.resize(static_cast<size_t>(K));
  float* const mulp = mul.data();  // thread_local: inside the parallel regions, reach it by pointer
  const double M = static_cast<double>(N) * static_cast<double>(OHW);
#pragma omp parallel for schedule(static) num_threads(kernel_threads())
  for (int k = 0; k < K; ++k) {
    // Chan et al.'s pairwise merge, images in order.
    double count = 0.0, mean = 0.0, m2 = 0.0;
    const double nb = static_cast<double>(OHW);
    for (int n = 0; n < N; ++n) {
      const double mb = image_mean[static_cast<size_t>(n) * K + k];
      const double total = count + nb;
      const double delta = mb - mean;
      mean += delta * nb / total;
      m2 += image_m2[static_cast<size_t>(n) * K + k] + delta * delta * count * nb / total;
      count = total;
    }
    const double var = m2 / M;
    const double unbiased = M > 1.0 ? m2 / (M - 1.0) : var;
    const float invstd = static_cast<float>(1.0 / std::sqrt(var + eps));
    save_mean[k] = static_cast<float>(mean);
    save_invstd[k] = invstd;
    mulp[k] = invstd * gamma[k];
    if (running_mean != nullptr)
      running_mean[k] = static_cast<float>(running_mean[k] * momentum + mean * (1.0 - momentum));
    if (running_var != nullptr)
      running_var[k] = static_cast<float>(running_var[k] * momentum + unbiased * (1.0 - momentum));
  }
  const int planes = N * K;
#pragma omp parallel for schedule(static) num_threads(kernel_threads())
  for (int p = 0; p < planes; ++p) {
    const int k = p % K;
    bn_plane_normalize(OHW, z + static_cast<size_t>(p) * OHW, save_mean[k], mulp[k], beta[k],
                       y + static_cast<size_t>(p) * OHW);
  }
}

// The prepared block: a header (the SIMD level it was packed under, K, C), the folded pointwise
// weights packed for sgemm_packed, then the K shifts.
namespace {
constexpr size_t kPreparedHeader = 16;  // floats: the packed weights start 64 bytes in
}  // namespace

size_t fused_conv_bn_prepared_floats(const FusedConvBnShape& s) {
  return kPreparedHeader + sgemm_packed_a_floats(s.K, s.C) + static_cast<size_t>(s.K);
}

void fused_conv_bn_prepare_eval(const FusedConvBnShape& s, const float* w_pw, const float* gamma, const float* beta,
                                const float* running_mean, const float* running_var, float eps, float* prepared) {
  const int K = s.K, C = s.C;
  // y = (a ∘ w_pw) · in + (beta - mean * a), a = gamma / sqrt(var + eps).
  thread_local std::vector<float> folded;
  folded.resize(static_cast<size_t>(K) * C);
  float* const wf = folded.data();
  float* const shift = prepared + kPreparedHeader + sgemm_packed_a_floats(K, C);
  for (int k = 0; k < K; ++k) {
    const float a = static_cast<float>(1.0 / std::sqrt(static_cast<double>(running_var[k]) + eps)) * gamma[k];
    const float* wr = w_pw + static_cast<size_t>(k) * C;
    float* fr = wf + static_cast<size_t>(k) * C;
#pragma omp simd
    for (int c = 0; c < C; ++c) fr[c] = wr[c] * a;
    shift[k] = beta[k] - running_mean[k] * a;
  }
  const int header[3] = {static_cast<int>(active_simd()), K, C};
  std::memcpy(prepared, header, sizeof header);
  sgemm_pack_a(false, K, C, 1.0f, wf, C, prepared + kPreparedHeader);
}

bool fused_conv_bn_prepared_current(const FusedConvBnShape& s, const float* prepared) {
  int header[3];
  std::memcpy(header, prepared, sizeof header);
  return header[0] == static_cast<int>(active_simd()) && header[1] == s.K && header[2] == s.C;
}

void fused_conv_bn_forward_eval(const FusedConvBnShape& s, const float* x, const float* w_dw, const float* w_pw,
                                const float* gamma, const float* beta, const float* running_mean,
                                const float* running_var, float eps, float* y, const float* residual,
                                size_t y_image_stride) {
  thread_local Scratch prepared_buf;
  float* const prepared = prepared_buf.get(fused_conv_bn_prepared_floats(s));
  fused_conv_bn_prepare_eval(s, w_pw, gamma, beta, running_mean, running_var, eps, prepared);
  fused_conv_bn_forward_eval_prepared(s, x, w_dw, prepared, y, residual, y_image_stride);
}

void fused_conv_bn_forward_eval_prepared(const FusedConvBnShape& s, const float* x, const float* w_dw,
                                         const float* prepared, float* y, const float* residual,
                                         size_t y_image_stride) {
  const size_t HW = in_plane(s), OHW = out_plane(s);
  const size_t y_stride = y_image_stride != 0 ? y_image_stride : static_cast<size_t>(s.K) * OHW;
  const int N = s.N, C = s.C, K = s.K;
  const float* const w_packed = prepared + kPreparedHeader;
  const float* const shift = w_packed + sgemm_packed_a_floats(K, C);
  int threads = kernel_threads();
  // Fewer images than threads (batch 1 inference): an image is split over the threads only when its
  // work is worth the region's fork and barrier (kSplitFlops, dispatch.h). At NASNet's batch 1 that
  // keeps the small separable units (2 MFLOP at C 32 / 32×32, 64 / 16×16, 128 / 8×8) serial and
  // splits the stem-side 1×1s over wide concatenations (8–13 MFLOP).
  const double image_flops = 2.0 * K * C * static_cast<double>(OHW) +
                             (s.has_depthwise ? 2.0 * C * s.dw.kh * s.dw.kw * static_cast<double>(OHW) : 0.0);
  if (N < threads && image_flops < kSplitFlops) threads = 1;
  if (threads > 1 && N < threads) {
    // Images one after another, each split over the threads in one parallel region: depthwise (of
    // the ReLU) by channels (then a barrier), the GEMM (with the ReLU when there is no depthwise, and
    // the shift) by columns (whole NR-wide panels per thread).
    thread_local Scratch t_buf;
    const size_t t_ld = scratch_t_ld(s);
    float* tn = s.has_depthwise ? t_buf.get(static_cast<size_t>(C) * t_ld) : nullptr;
    const int taps = s.has_depthwise ? s.dw.kh * s.dw.kw : 0;
    const int cols = static_cast<int>(OHW), panels = (cols + 31) / 32;
    for (int n = 0; n < N; ++n) {
      const float* src = x + static_cast<size_t>(n) * C * HW;
      float* yn = y + static_cast<size_t>(n) * y_stride;
      const float* rn = residual != nullptr ? residual + static_cast<size_t>(n) * K * OHW : nullptr;
#pragma omp parallel num_threads(threads)
      {
        const int u = thread_index(), team = team_size();
        const int j0 = std::min(cols, panels * u / team * 32), j1 = std::min(cols, panels * (u + 1) / team * 32);
        const float* in = src;
        int ld_in = cols;
        bool relu_b = s.relu_in;
        if (s.has_depthwise) {
          thread_local Scratch pad_buf;
          float* pad = pad_buf.get(depthwise_plane_scratch_floats(s.dw));
          const int c0 = C * u / team, c1 = C * (u + 1) / team;
          depthwise_forward_planes(s.dw, c1 - c0, src + static_cast<size_t>(c0) * HW, HW,
                                   w_dw + static_cast<size_t>(c0) * taps, nullptr, tn + c0 * t_ld, t_ld, pad,
                                   s.relu_in);
#pragma omp barrier
          in = tn;
          ld_in = static_cast<int>(t_ld);
          relu_b = false;
        }
        if (j1 > j0)
          sgemm_packed(w_packed, false, K, j1 - j0, C, in + j0, ld_in, 0.0f, yn + j0, cols,
                       PackedGemmExtras{relu_b, shift, rn != nullptr ? rn + j0 : nullptr});
      }
    }
    return;
  }
  // Whole images per thread (OpenMP's static split): image n's ReLU and depthwise into this thread's
  // scratch, its GEMM, the shift. Not an orphaned `omp for`: called on one thread inside another
  // team (image-parallel lanes), that would share the images out over the enclosing team.
  auto whole_images = [&](int t, int team) {
    thread_local Scratch t_buf, pad_buf;
    const ImageScratch sc = image_scratch(s, true, t_buf, pad_buf);
    int lo, hi;
    static_share(N, t, team, lo, hi);
    for (int n = lo; n < hi; ++n) {
      const PointwiseInput in = pointwise_input(s, x + static_cast<size_t>(n) * C * HW, w_dw, sc.t, sc.t_ld, sc.pad);
      float* yn = y + static_cast<size_t>(n) * y_stride;
      const float* rn = residual != nullptr ? residual + static_cast<size_t>(n) * K * OHW : nullptr;
      sgemm_packed(w_packed, false, K, static_cast<int>(OHW), C, in.data, in.ld, 0.0f, yn,
                   static_cast<int>(OHW), PackedGemmExtras{in.relu, shift, rn});
    }
  };
  if (threads == 1) {
    SerialScope serial;  // the GEMMs stay on this thread
    whole_images(0, 1);
    return;
  }
  parallel_team(threads, whole_images);
}

void fused_conv_bn_backward(const FusedConvBnShape& s, const float* x, const float* w_dw, const float* w_pw,
                            const float* gamma, const float* t, const float* z, const float* save_mean,
                            const float* save_invstd, const float* dy, float* dx, float* dw_dw, float* dw_pw,
                            float* dgamma, float* dbeta) {
  const size_t HW = in_plane(s), OHW = out_plane(s);
  const int N = s.N, C = s.C, K = s.K;
  const double M = static_cast<double>(N) * static_cast<double>(OHW);
  // BN backward's per-channel sums: dz = k * (dy - mdy - (z - mean) * invstd * mdyx).
  thread_local std::vector<float> coef;
  coef.resize(3 * static_cast<size_t>(K));
  float* kk = coef.data();
  float* mdy = kk + K;
  float* mdyx = mdy + K;
#pragma omp parallel for schedule(static) num_threads(kernel_threads())
  for (int k = 0; k < K; ++k) {
    const float mean = save_mean[k];
    double sdy = 0.0, sdyx = 0.0;
    for (int n = 0; n < N; ++n) {
      const size_t off = (static_cast<size_t>(n) * K + k) * OHW;
      float a, b;
      bn_plane_dy_sums(OHW, dy + off, z + off, mean, &a, &b);
      sdy += a;
      sdyx += b;
    }
    sdyx *= save_invstd[k];
    dbeta[k] += static_cast<float>(sdy);
    dgamma[k] += static_cast<float>(sdyx);
    kk[k] = gamma[k] * save_invstd[k];
    mdy[k] = static_cast<float>(sdy / M);
    mdyx[k] = static_cast<float>(sdyx / M);
  }

  const int threads = kernel_threads();
  const int taps = s.has_depthwise ? s.dw.kh * s.dw.kw : 0;
  const size_t pw_size = static_cast<size_t>(K) * C, dw_size = static_cast<size_t>(C) * taps;
  const size_t part_size = pw_size + dw_size;
  thread_local Scratch part_buf;
  float* parts = part_buf.get(part_size * static_cast<size_t>(threads));
  // w_pwᵀ packed once for every image's dt (or dx) = w_pwᵀ · dz.
  thread_local Scratch wt_packed_buf;
  float* const wt_packed = wt_packed_buf.get(sgemm_packed_a_floats(C, K));
  sgemm_pack_a(true, C, K, 1.0f, w_pw, C, wt_packed);
#pragma omp parallel num_threads(threads)
  {
    thread_local Scratch dz_buf, dt_buf, r_buf, dw_scratch_buf;
    // dz's rows dz_ld apart: dt = w_pwᵀ · dz reads them in place (sgemm_in_place_ld).
    const int dz_ld = sgemm_in_place_ld(static_cast<int>(OHW));
    float* dz = dz_buf.get(static_cast<size_t>(K) * dz_ld);
    float* dt = s.has_depthwise ? dt_buf.get(static_cast<size_t>(C) * OHW) : nullptr;
    float* r = s.relu_in ? r_buf.get(static_cast<size_t>(C) * HW) : nullptr;
    float* dw_scratch = s.has_depthwise ? dw_scratch_buf.get(depthwise_image_backward_scratch_floats(s.dw)) : nullptr;
    float* mine = parts + part_size * static_cast<size_t>(thread_index());
    std::memset(mine, 0, sizeof(float) * part_size);
#pragma omp for schedule(static)
    for (int n = 0; n < N; ++n) {
      for (int k = 0; k < K; ++k) {
        const size_t off = (static_cast<size_t>(n) * K + k) * OHW;
        bn_plane_input_grad(OHW, dy + off, z + off, kk[k], mdy[k], save_mean[k], save_invstd[k], mdyx[k],
                            dz + static_cast<size_t>(k) * dz_ld);
      }
      const float* xn = x + static_cast<size_t>(n) * C * HW;
      const float* src = xn;
      if (s.relu_in) {
        relu_image(s, xn, r);
        src = r;
      }
      const float* in = s.has_depthwise ? t + static_cast<size_t>(n) * C * OHW : src;
      sgemm(false, true, K, C, static_cast<int>(OHW), 1.0f, dz, dz_ld, in, static_cast<int>(OHW), 1.0f, mine, C);
      float* dxn = dx != nullptr ? dx + static_cast<size_t>(n) * C * HW : nullptr;
      if (s.has_depthwise) {
        sgemm_packed(wt_packed, false, C, static_cast<int>(OHW), K, dz, dz_ld, 0.0f, dt, static_cast<int>(OHW));
        depthwise_image_backward(s.dw, src, w_dw, dt, dxn, mine + pw_size, dw_scratch);
      } else if (dxn != nullptr) {
        sgemm_packed(wt_packed, false, C, static_cast<int>(OHW), K, dz, dz_ld, 0.0f, dxn, static_cast<int>(OHW));
      }
      if (dxn != nullptr && s.relu_in) relu_grad_range(static_cast<size_t>(C) * HW, xn, dxn, dxn);
    }
    // Per-thread partials summed in thread order (the loop above ends with a barrier).
    const int team = team_size();
    size_t lo, hi;
    static_share(part_size, thread_index(), team, lo, hi);
    add_partials(lo, std::min(hi, pw_size), team, parts, part_size, dw_pw);
    if (hi > pw_size)
      add_partials(std::max(lo, pw_size) - pw_size, hi - pw_size, team, parts + pw_size, part_size, dw_dw);
  }
}

}  // namespace nasnet::cpu
