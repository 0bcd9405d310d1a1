// The per-element bodies of the CUDA depthwise, pooling and layout kernels (native/cuda/pixel_ops.h),
// run on the host over every index exactly as the kernels' grid-stride loops do, against the CPU
// kernels. Runs without a device, so every machine checks the seeks the device kernels use.
// Tolerances: sums (depthwise, average pooling) atol = rtol = 1e-4 (float sums in another order);
// selections and copies (max pooling, argmax, pad, slice, concat) exact.
#include <cmath>
#include <cstdio>
#include <vector>

#include "core/random.h"
#include "cpu/kernels.h"
#include "cuda/pixel_ops.h"
#include "tests/kernels_util.h"
#include "tests/test.h"

namespace {

namespace cu = nasnet::cuda;
namespace cpu = nasnet::cpu;

std::vector<float> rnd(size_t n, uint64_t seed) { return nasnet::test::counter_random(n, seed, 11); }

void close(const char* what, const std::vector<float>& got, const std::vector<float>& ref, double tol) { nasnet::test::all_close(what, got, ref, tol, tol); }

cpu::ConvShape dw_shape(int N, int C, int H, int W, int k, int st, int pt, int pl, int pb, int pr, int d) {
  cpu::ConvShape s{N, C, H, W, C, k, k, st, st, pt, pl, pb, pr, d, d, C, 0, 0};
  s.OH = (H + pt + pb - d * (k - 1) - 1) / st + 1;
  s.OW = (W + pl + pr - d * (k - 1) - 1) / st + 1;
  return s;
}

cpu::PoolShape pool_shape(int N, int C, int H, int W, int k, int st, int pt, int pl, int pb, int pr, bool incl) {
  cpu::PoolShape s{N, C, H, W, k, k, st, st, pt, pl, pb, pr, 0, 0, incl};
  s.OH = (H + pt + pb - k) / st + 1;
  s.OW = (W + pl + pr - k) / st + 1;
  return s;
}

}  // namespace

NASNET_TEST(cuda_depthwise_pixel_ops_match_cpu_on_host) {
  // The last shape has more filter taps than kDwTargetBlocks: one slice for all images.
  for (const auto& s : {dw_shape(2, 12, 15, 13, 5, 2, 2, 2, 2, 2, 1), dw_shape(3, 8, 10, 10, 3, 1, 2, 2, 2, 2, 2),
                        dw_shape(2, 6, 11, 11, 7, 2, 2, 3, 3, 2, 1), dw_shape(5, 48, 6, 6, 7, 1, 3, 3, 3, 3, 1)}) {
    size_t nx = (size_t)s.N * s.C * s.H * s.W, nw = (size_t)s.C * s.kh * s.kw, ny = (size_t)s.N * s.C * s.OH * s.OW;
    auto x = rnd(nx, 1), w = rnd(nw, 2), b = rnd(s.C, 3), dy = rnd(ny, 4), dw0 = rnd(nw, 5);
    std::vector<float> y(ny), dx(nx), dw = dw0, rx(nx), yr(ny);
    cpu::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
    cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), nullptr);
    cpu::relu_forward(nx, x.data(), rx.data());
    cpu::conv2d_forward(s, rx.data(), w.data(), b.data(), yr.data());
    std::vector<float> gy(ny), gyr(ny), gdx(nx), gdw = dw0;
    for (size_t i = 0; i < ny; ++i) gy[i] = cu::depthwise_out_at(s, x.data(), w.data(), b.data(), i, false);
    for (size_t i = 0; i < ny; ++i) gyr[i] = cu::depthwise_out_at(s, x.data(), w.data(), b.data(), i, true);
    for (size_t i = 0; i < nx; ++i) gdx[i] = cu::depthwise_dx_at(s, w.data(), dy.data(), i);
    const int khw = s.kh * s.kw;
    const int S = cu::depthwise_dw_slices(s);
    // per slice: 256 thread partials + block_sum's tree; slices in order. relu: the fused ReLU → depthwise
    // backward, reading relu(x).
    auto filter_grad = [&](bool relu, std::vector<float>* out) {
      for (int row = 0; row < s.C * khw; ++row) {
        double total = 0.0;
        for (int j = 0; j < S; ++j) {
          const int n0 = cu::depthwise_dw_slice_begin(s, S, j), n1 = cu::depthwise_dw_slice_begin(s, S, j + 1);
          std::vector<double> part(256);
          for (int t = 0; t < 256; ++t)
            part[t] = cu::depthwise_dw_slice_partial(s, x.data(), dy.data(), row / khw, row % khw, n0, n1, t, 256, relu);
          for (int half = 128; half > 0; half >>= 1)
            for (int t = 0; t < half; ++t) part[t] += part[t + half];
          total += part[0];
        }
        (*out)[row] += static_cast<float>(total);
      }
    };
    filter_grad(false, &gdw);
    std::vector<float> gdwr = dw0, dwr = dw0, unused(nx);
    filter_grad(true, &gdwr);
    cpu::conv2d_backward(s, rx.data(), w.data(), dy.data(), unused.data(), dwr.data(), nullptr);
    close("relu->dw dw", gdwr, dwr, 1e-4);
    close("dw y", gy, y, 1e-4);
    close("relu->dw y", gyr, yr, 1e-4);
    close("dw dx", gdx, dx, 1e-4);
    close("dw dw", gdw, dw, 1e-4);
  }
}

NASNET_TEST(cuda_pool_pixel_ops_match_cpu_on_host) {
  for (const auto& s : {pool_shape(2, 5, 11, 9, 3, 2, 1, 1, 1, 1, false), pool_shape(2, 5, 11, 9, 3, 1, 1, 1, 1, 1, true),
                        pool_shape(3, 4, 8, 8, 2, 2, 0, 0, 0, 0, true), pool_shape(2, 3, 10, 7, 3, 2, 0, 1, 1, 0, false),
                        pool_shape(1, 2, 9, 9, 3, 2, 1, 1, 2, 2, true)}) {
    size_t nx = (size_t)s.N * s.C * s.H * s.W, ny = (size_t)s.N * s.C * s.OH * s.OW;
    auto x = rnd(nx, 1), dy = rnd(ny, 2);
    std::vector<float> ym(ny), dxm(nx), ya(ny), dxa(nx);
    std::vector<int32_t> am(ny);
    cpu::maxpool_forward(s, x.data(), ym.data(), am.data());
    cpu::maxpool_backward(s, am.data(), dy.data(), dxm.data());
    cpu::avgpool_forward(s, x.data(), ya.data());
    cpu::avgpool_backward(s, dy.data(), dxa.data());
    std::vector<float> gym(ny), gdxm(nx), gya(ny), gdxa(nx);
    std::vector<int32_t> gam(ny);
    for (size_t i = 0; i < ny; ++i) cu::maxpool_out_at(s, x.data(), i, &gym[i], &gam[i]);
    for (size_t i = 0; i < nx; ++i) gdxm[i] = cu::maxpool_dx_at(s, gam.data(), dy.data(), i);
    for (size_t i = 0; i < ny; ++i) gya[i] = cu::avgpool_out_at(s, x.data(), i);
    for (size_t i = 0; i < nx; ++i) gdxa[i] = cu::avgpool_dx_at(s, dy.data(), i);
    close("maxpool y", gym, ym, 0);
    EXPECT_TRUE(gam == am);
    close("maxpool dx", gdxm, dxm, 1e-6);
    close("avgpool y", gya, ya, 1e-4);
    close("avgpool dx", gdxa, dxa, 1e-4);
  }
}

// NaN in the input: the device bodies propagate it exactly as the CPU kernels (core/nan.h): the
// ReLU read by depthwise keeps it, max pooling returns it with its position as the argmax.
NASNET_TEST(cuda_pixel_ops_propagate_nan_like_cpu_on_host) {
  const auto d = dw_shape(2, 4, 9, 11, 3, 1, 1, 1, 1, 1, 1);
  const auto p = pool_shape(2, 4, 9, 11, 3, 2, 1, 1, 1, 1, false);
  size_t nx = (size_t)d.N * d.C * d.H * d.W;
  auto x = rnd(nx, 1), w = rnd((size_t)d.C * 9, 2);
  for (size_t i : {size_t(0), size_t(37), size_t(200), nx - 1}) x[i] = NAN;
  std::vector<float> rx(nx), y(nx), gy(nx);
  cpu::relu_forward(nx, x.data(), rx.data());
  cpu::conv2d_forward(d, rx.data(), w.data(), nullptr, y.data());
  for (size_t i = 0; i < nx; ++i) gy[i] = cu::depthwise_out_at(d, x.data(), w.data(), nullptr, i, true);
  nasnet::test::nan_close("relu->dw y", gy, y, 1e-4, 1e-4);
  size_t ny = (size_t)p.N * p.C * p.OH * p.OW;
  std::vector<float> ym(ny), gym(ny);
  std::vector<int32_t> am(ny), gam(ny);
  cpu::maxpool_forward(p, x.data(), ym.data(), am.data());
  for (size_t i = 0; i < ny; ++i) cu::maxpool_out_at(p, x.data(), i, &gym[i], &gam[i]);
  nasnet::test::nan_close("maxpool y", gym, ym, 0, 0);
  EXPECT_TRUE(gam == am);
}

NASNET_TEST(cuda_layout_pixel_ops_match_cpu_on_host) {
  const int N = 3, HW = 20, channels[3] = {4, 1, 6}, total = 11;
  auto x0 = rnd((size_t)N * 4 * HW, 1), x1 = rnd((size_t)N * HW, 2), x2 = rnd((size_t)N * 6 * HW, 3);
  const float* xs[3] = {x0.data(), x1.data(), x2.data()};
  std::vector<float> y((size_t)N * total * HW), gy(y.size(), NAN);
  cpu::concat_forward(N, HW, 3, xs, channels, y.data());
  int off = 0;
  for (int k = 0; k < 3; ++k) {
    for (size_t i = 0; i < (size_t)N * channels[k] * HW; ++i) gy[cu::channel_block_at(i, HW, channels[k], total, off)] = xs[k][i];
    off += channels[k];
  }
  close("concat y", gy, y, 0);

  const int C = 3, H = 7, W = 6;
  const int pads[2][4] = {{1, 2, 0, 1}, {-1, 1, 2, -2}};
  for (const auto& p : pads) {
    int OH = H + p[0] + p[2], OW = W + p[1] + p[3];
    auto x = rnd((size_t)N * C * H * W, 4), dy = rnd((size_t)N * C * OH * OW, 5);
    std::vector<float> py((size_t)N * C * OH * OW), pdx(x.size()), gpy(py.size()), gpdx(x.size());
    cpu::pad_forward(N, C, H, W, p[0], p[1], p[2], p[3], x.data(), py.data());
    cpu::pad_backward(N, C, H, W, p[0], p[1], p[2], p[3], dy.data(), pdx.data());
    for (size_t i = 0; i < py.size(); ++i) gpy[i] = cu::pad_out_at(H, W, p[0], p[1], OH, OW, x.data(), i);
    for (size_t i = 0; i < pdx.size(); ++i) gpdx[i] = cu::pad_dx_at(H, W, p[0], p[1], OH, OW, dy.data(), i);
    close("pad y", gpy, py, 0);
    close("pad dx", gpdx, pdx, 0);
  }
  const int slices[2][6] = {{1, 0, 2, 2, 3, 3}, {6, 5, -2, -1, 3, 4}};  // h0, w0, sh, sw, OH, OW
  for (const auto& q : slices) {
    auto x = rnd((size_t)N * C * H * W, 6), dy = rnd((size_t)N * C * q[4] * q[5], 7);
    std::vector<float> sy(dy.size()), sdx(x.size()), gsy(dy.size()), gsdx(x.size());
    cpu::slice_forward(N, C, H, W, q[0], q[1], q[2], q[3], q[4], q[5], x.data(), sy.data());
    cpu::slice_backward(N, C, H, W, q[0], q[1], q[2], q[3], q[4], q[5], dy.data(), sdx.data());
    for (size_t i = 0; i < sy.size(); ++i) gsy[i] = cu::slice_out_at(H, W, q[0], q[1], q[2], q[3], q[4], q[5], x.data(), i);
    for (size_t i = 0; i < sdx.size(); ++i) gsdx[i] = cu::slice_dx_at(H, W, q[0], q[1], q[2], q[3], q[4], q[5], dy.data(), i);
    close("slice y", gsy, sy, 0);
    close("slice dx", gsdx, sdx, 0);
  }
}
