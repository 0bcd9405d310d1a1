#include "core/info.h"
#include "tests/test.h"

NASNET_TEST(info_reports_simd_and_threads) {
  EXPECT_TRUE(nasnet::cpu_threads() >= 1);
  const char* name = nasnet::simd_level_name(nasnet::simd_level());
  EXPECT_TRUE(name != nullptr && name[0] != '\0');
}

NASNET_TEST(cuda_info_never_throws_without_a_device) {
  nasnet::CudaInfo info = nasnet::cuda_info();
  EXPECT_TRUE(!info.devices.empty() || !info.reason.empty());
}
