// Shared helpers for the CPU kernel tests: seeded random data, tolerance checks that print the first
// mismatches, a loop over every SIMD level this CPU has, and central finite differences in double.
#pragma once
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

#include "core/info.h"
#include "core/random.h"
#include "cpu/dispatch.h"
#include "tests/test.h"

namespace nasnet::test {

inline std::vector<float> random_vec(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// Uniform values in [lo, hi) from the counter-based RNG (native/core/random.h) of (seed, stream):
// the same data on the host and in the CUDA tests.
inline std::vector<float> counter_random(size_t n, uint64_t seed, uint64_t stream, float lo = -1.0f, float hi = 1.0f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = lo + (hi - lo) * uniform01(seed, stream, i);
  return v;
}

inline std::vector<double> to_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

// |got - ref| <= atol + rtol * |ref| for every element; prints the first 5 mismatches with `what`.
template <typename G, typename R>
bool all_close(const char* what, const G& got, const R& ref, double rtol, double atol) {
  if (got.size() != ref.size()) {
    std::printf("  %s: size %zu vs %zu\n", what, got.size(), ref.size());
    ++failures();
    return false;
  }
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double g = got[i], r = ref[i];
    if (!(std::fabs(g - r) <= atol + rtol * std::fabs(r))) {
      if (bad < 5) std::printf("  %s[%zu]: got %.9g, ref %.9g\n", what, i, g, r);
      ++bad;
    }
  }
  if (bad > 0) {
    std::printf("  %s: %d of %zu mismatches (rtol %g, atol %g)\n", what, bad, got.size(), rtol, atol);
    ++failures();
  }
  return bad == 0;
}

// all_close where NaN must meet NaN: an element that is NaN on either side must be NaN on both
// (the NaN rules of core/nan.h), the others within atol + rtol * |ref|.
template <typename G, typename R>
bool nan_close(const char* what, const G& got, const R& ref, double rtol, double atol) {
  int bad = 0, nans = 0;
  for (size_t i = 0; i < got.size() && i < ref.size(); ++i) {
    const double g = got[i], r = ref[i];
    nans += std::isnan(r);
    const bool ok = std::isnan(g) || std::isnan(r) ? std::isnan(g) && std::isnan(r) : std::fabs(g - r) <= atol + rtol * std::fabs(r);
    if (!ok && bad++ < 5) std::printf("  %s[%zu]: got %.9g, ref %.9g\n", what, i, g, r);
  }
  if (bad > 0 || got.size() != ref.size() || nans == 0) {
    std::printf("  %s: %d of %zu mismatches, %d NaN in the reference (rtol %g, atol %g)\n", what, bad, got.size(), nans,
                rtol, atol);
    ++failures();
    return false;
  }
  return true;
}

// The same floats, bit for bit, except that NaN meets any NaN; prints the first 3 differences with
// `what` and counts a failure. For paths that must compute the same sums in the same order.
template <typename G, typename R>
bool same_floats(const char* what, const G& got, const R& want) {
  size_t bad = 0;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    const float g = got[i], w = want[i];
    const bool same = std::isnan(w) ? std::isnan(g) : std::memcmp(&g, &w, sizeof g) == 0;
    if (!same && bad++ < 3) std::printf("  %s[%zu]: got %.9g, want %.9g\n", what, i, g, w);
  }
  if (bad > 0 || got.size() != want.size()) {
    std::printf("  %s: %zu of %zu differ (sizes %zu, %zu)\n", what, bad, want.size(), got.size(), want.size());
    ++failures();
    return false;
  }
  return true;
}

// Runs fn once per SIMD level this CPU supports (portable, avx2, avx512), then clears the override.
inline void for_each_simd(const std::function<void(SimdLevel)>& fn) {
  for (int l = 0; l <= static_cast<int>(simd_level()); ++l) {
    cpu::set_simd_override(l);
    fn(static_cast<SimdLevel>(l));
  }
  cpu::set_simd_override(-1);
}

// Central differences of a scalar objective f(p) in double, for the entries `idx` of p
// (p is restored). Step h; the objectives here are polynomials of low degree or smooth, so the error
// is O(h^2) (exact up to rounding for the linear ones).
inline std::vector<double> numeric_grad(std::vector<double>& p, const std::vector<size_t>& idx,
                                        const std::function<double()>& f, double h = 1e-4) {
  std::vector<double> g(idx.size());
  for (size_t k = 0; k < idx.size(); ++k) {
    double keep = p[idx[k]];
    p[idx[k]] = keep + h;
    double fp = f();
    p[idx[k]] = keep - h;
    double fm = f();
    p[idx[k]] = keep;
    g[k] = (fp - fm) / (2 * h);
  }
  return g;
}

// Up to `cap` indices of [0, n): all of them when n <= cap, else a seeded random sample.
inline std::vector<size_t> sample_indices(size_t n, size_t cap, uint32_t seed) {
  std::vector<size_t> idx;
  if (n <= cap) {
    for (size_t i = 0; i < n; ++i) idx.push_back(i);
    return idx;
  }
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> u(0, n - 1);
  for (size_t i = 0; i < cap; ++i) idx.push_back(u(rng));
  return idx;
}

template <typename T>
std::vector<double> pick(const std::vector<T>& v, const std::vector<size_t>& idx) {
  std::vector<double> out;
  for (size_t i : idx) out.push_back(v[i]);
  return out;
}

}  // namespace nasnet::test
