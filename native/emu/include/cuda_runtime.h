// The emulated CUDA device's runtime header: native/cuda/*.cu compile with the host compiler against
// it (-DNASNET_CUDA_EMULATED=ON puts native/emu/include first on the include path) and run on the CPU
// with CUDA's semantics. A test-only device: never shipped, never linked with the real runtime.
#pragma once
#include "nasnet_emu/types.h"
#include "nasnet_emu/api.h"
#include "nasnet_emu/device.h"
#include "nasnet_emu/launch.h"
