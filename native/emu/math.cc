// The device's fast math intrinsics that glibc's <cmath> declares (as its internal names) but does
// not export: defined here, exactly (the device's versions are approximations within the parity
// tests' tolerances).
#include <cmath>

extern "C" {
float __expf(float x) noexcept { return std::exp(x); }
float __logf(float x) noexcept { return std::log(x); }
float __log2f(float x) noexcept { return std::log2(x); }
float __sinf(float x) noexcept { return std::sin(x); }
float __cosf(float x) noexcept { return std::cos(x); }
float __tanf(float x) noexcept { return std::tan(x); }
float __powf(float x, float y) noexcept { return std::pow(x, y); }
}
