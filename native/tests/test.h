// A minimal test harness for the native core (no dependencies).
#pragma once
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace nasnet::test {

struct TestCase {
  const char* name;
  void (*fn)();
};
std::vector<TestCase>& registry();
int& failures();

// Tests that skipped themselves (NASNET_SKIP): they count as passed, and say why.
inline int& skipped() {
  static int n = 0;
  return n;
}

struct Registrar {
  Registrar(const char* name, void (*fn)()) { registry().push_back({name, fn}); }
};

}  // namespace nasnet::test

#define NASNET_TEST(name)                                                          \
  static void name();                                                              \
  static ::nasnet::test::Registrar name##_registrar(#name, &name);                 \
  static void name()

#define EXPECT_TRUE(cond)                                                          \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::printf("  %s:%d: expected %s\n", __FILE__, __LINE__, #cond);            \
      ++::nasnet::test::failures();                                                \
    }                                                                              \
  } while (0)

#define EXPECT_NEAR(a, b, tol)                                                     \
  do {                                                                             \
    double _a = (a), _b = (b);                                                     \
    if (!(std::fabs(_a - _b) <= (tol))) {                                          \
      std::printf("  %s:%d: %s = %g, %s = %g, tol %g\n", __FILE__, __LINE__, #a, _a, #b, _b, (double)(tol)); \
      ++::nasnet::test::failures();                                                \
    }                                                                              \
  } while (0)

// Skip the rest of this test, printing "  skip <test>: <reason>"; the test counts as passed.
#define NASNET_SKIP(reason)                                                        \
  do {                                                                             \
    std::printf("  skip %s: %s\n", __func__, std::string(reason).c_str());         \
    ++::nasnet::test::skipped();                                                   \
    return;                                                                        \
  } while (0)
