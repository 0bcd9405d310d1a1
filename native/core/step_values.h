// Values that change from one training step to the next, kept in backend memory so that a step
// captured once (CUDA graphs) replays with new ones: the plan writes the host copy and uploads it
// at the start of each step (plan/backend.h). Plain structs shared by the plan and the kernels.
#pragma once
#include <cstdint>

namespace nasnet {

struct StepValues {
  float lr = 0, momentum = 0, weight_decay = 0, clip_norm = 0, rms_decay = 0, rms_eps = 0;
  int32_t nesterov = 0;
  float grad_scale = 1;  // written by the global-norm kernel: clip_norm / norm when clipping, else 1
  float ema_decay = 0;   // this step's parameter-average decay: min(decay, (1 + step) / (10 + step))
  double sumsq = 0;      // written by the global-norm kernel: the sum of squares of all gradients
  double loss = 0;       // the plain cross-entropy of outputs[0] (Evaluate without a loss node)
  float loss_node = 0;   // the loss node's value (a copy)
  int32_t correct = 0;   // rows whose argmax equals the label
};

// One DropPath or Dropout node's randomness in one step.
struct RandomSlot {
  float keep = 1;       // DropPath's keep probability this step (Dropout's ratio is an attribute)
  uint32_t active = 0;  // 0: the node is an identity this step (inference, keep >= 1, ratio <= 0)
  uint64_t stream = 0;  // the counter-based generator's stream (core/random.h)
};

}  // namespace nasnet
