// The emulated device's settings, read once from the environment (see internal.h for each).
#include <cstdlib>
#include <cstring>
#include <string>

#include "emu/internal.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace nasnet_emu {

namespace {

// "8G", "512M", "64k", "1048576": bytes; 0 when unset or malformed.
size_t parse_bytes(const char* s) {
  if (s == nullptr || *s == '\0') return 0;
  char* end = nullptr;
  double v = std::strtod(s, &end);
  if (end == s || v <= 0) return 0;
  double unit = 1;
  switch (*end) {
    case 'k': case 'K': unit = 1024.0; break;
    case 'm': case 'M': unit = 1024.0 * 1024; break;
    case 'g': case 'G': unit = 1024.0 * 1024 * 1024; break;
    case '\0': break;
    default: return 0;
  }
  return static_cast<size_t>(v * unit);
}

int parse_int(const char* s, int dflt) {
  if (s == nullptr || *s == '\0') return dflt;
  int v = std::atoi(s);
  return v > 0 ? v : dflt;
}

Config load() {
  Config c;
  size_t mem = parse_bytes(std::getenv("NASNET_EMU_MEMORY"));
  c.memory_limit = mem > 0 ? mem : size_t{8} << 30;
#if defined(_OPENMP)
  int dflt_threads = omp_get_max_threads();
#else
  int dflt_threads = 1;
#endif
  c.threads = parse_int(std::getenv("NASNET_EMU_THREADS"), dflt_threads);
  const char* poison = std::getenv("NASNET_EMU_POISON");
  c.poison = 0xff;
  if (poison != nullptr && std::strcmp(poison, "huge") == 0) c.poison = 0x7f;
  if (poison != nullptr && std::strcmp(poison, "0") == 0) c.poison = -1;
  const char* order = std::getenv("NASNET_EMU_ORDER");
  c.reverse = order != nullptr && std::strcmp(order, "reverse") == 0;
  c.multiprocessors = parse_int(std::getenv("NASNET_EMU_SMS"), 16);
  size_t stack = parse_bytes(std::getenv("NASNET_EMU_STACK"));
  c.stack_bytes = stack >= 16384 ? stack : size_t{64} << 10;
  return c;
}

}  // namespace

const Config& config() {
  static const Config c = load();
  return c;
}

}  // namespace nasnet_emu
