// Native test runner: every test registers itself with NASNET_TEST; main runs them all (or those
// whose name contains argv[1]) and prints "N passed, N failed, N skipped" (a test that called
// NASNET_SKIP counts as skipped, with its reason printed above).
#include "tests/test.h"

#include <cstdio>
#include <cstring>

namespace nasnet::test {

std::vector<TestCase>& registry() {
  static std::vector<TestCase> tests;
  return tests;
}

int& failures() {
  static int n = 0;
  return n;
}

}  // namespace nasnet::test

int main(int argc, char** argv) {
  using namespace nasnet::test;
  int passed = 0, failed = 0, skips = 0;
  for (const TestCase& t : registry()) {
    if (argc > 1 && std::strstr(t.name, argv[1]) == nullptr) continue;
    int before = failures();
    int skipped_before = skipped();
    t.fn();
    if (failures() == before && skipped() != skipped_before) {
      ++skips;
      std::printf("skip %s\n", t.name);
    } else if (failures() == before) {
      ++passed;
      std::printf("ok   %s\n", t.name);
    } else {
      ++failed;
      std::printf("FAIL %s\n", t.name);
    }
  }
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skips);
  return failed == 0 ? 0 : 1;
}
