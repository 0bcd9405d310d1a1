// The per-element optimizer updates, shared by the kernels that take their hyperparameters as
// arguments (optimizer.cu) and those that read them from a captured step's device block
// (step_ops.cu). Same formulas as the CPU twins (cpu/optimizer.cc). gp = g * grad_scale + wd * w.
#pragma once

#include <cmath>

#include "core/random.h"  // NASNET_HD

namespace nasnet::cuda {

// SGD with momentum (Nesterov optional): v = momentum * v + gp; w -= lr * (nesterov ? gp + momentum * v : v).
NASNET_HD void sgd_element(float* w, float* v, float g, float gs, float wd, float lr, float momentum, bool nesterov) {
  float gp = g * gs + wd * *w;
  float vi = momentum * *v + gp;
  *v = vi;
  *w -= lr * (nesterov ? gp + momentum * vi : vi);
}

// RMSProp with momentum (TF's form): ms = rho * ms + (1 - rho) * gp²; mom = momentum * mom + lr * gp / sqrt(ms + eps); w -= mom.
NASNET_HD void rmsprop_element(float* w, float* ms, float* mom, float g, float gs, float wd, float lr, float rho,
                               float momentum, float eps) {
  float gp = g * gs + wd * *w;
  float m2 = rho * *ms + (1.f - rho) * gp * gp;
  *ms = m2;
  float mo = momentum * *mom + lr * gp / sqrtf(m2 + eps);
  *mom = mo;
  *w -= mo;
}

}  // namespace nasnet::cuda
