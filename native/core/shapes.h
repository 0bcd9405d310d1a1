// Shapes of the kernels' operands, shared by the CPU kernels (cpu/kernels.h), the CUDA kernels
// (cuda/kernels.h) and the plan (plan/ir.h), so neither backend includes the other.
// N = batch, C = channels in, K = channels out, H, W = input height and width, OH, OW = output height
// and width, kh, kw = kernel size.
#pragma once

#include "core/random.h"  // NASNET_HD

namespace nasnet {

struct ConvShape {
  int N, C, H, W;        // input
  int K;                 // output channels
  int kh, kw;            // kernel
  int sh, sw;            // strides
  int pt, pl, pb, pr;    // pads: top, left, bottom, right
  int dh, dw;            // dilations
  int groups;            // C % groups == 0 and K % groups == 0; depthwise: groups == C == K
  int OH, OW;            // (H + pt + pb - dh*(kh-1) - 1) / sh + 1, likewise OW
  // ReLU on the input, in inference plans only: a Relu absorbed by the strided 1×1 convolutions
  // reading it (plan.cc FuseChains, Fusion::kReluStridedConv); the forward alone, is_strided_pointwise.
  bool relu_in = false;
};
// 1×1, stride 1, no padding (any groups): one GEMM per image and group.
NASNET_HD bool is_pointwise(const ConvShape& s) {
  return s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.pt == 0 && s.pl == 0 && s.pb == 0 && s.pr == 0 &&
         s.OH == s.H && s.OW == s.W;
}
// 1×1, groups 1, and a stride above 1 on at least one axis (stride 1 is is_pointwise), any pads
// (negative ones too: inference plans' shifted inputs, plan.cc FusePadSliceConvs).
NASNET_HD bool is_strided_pointwise(const ConvShape& s) {
  return s.kh == 1 && s.kw == 1 && s.groups == 1 && (s.sh > 1 || s.sw > 1) && s.H + s.pt + s.pb >= 1 &&
         s.W + s.pl + s.pr >= 1 && s.OH == (s.H + s.pt + s.pb - 1) / s.sh + 1 &&
         s.OW == (s.W + s.pl + s.pr - 1) / s.sw + 1;
}
// groups == C == K.
NASNET_HD bool is_depthwise(const ConvShape& s) { return s.groups > 1 && s.groups == s.C && s.groups == s.K; }

struct BatchNormShape {
  int N, C, HW;
};

struct PoolShape {
  int N, C, H, W;
  int kh, kw, sh, sw;
  int pt, pl, pb, pr;
  int OH, OW;
  bool count_include_pad;  // average pooling only
};

struct FusedConvBnShape {
  int N, C, H, W;      // input x
  int K;               // output channels
  int OH, OW;          // output size (the depthwise stage's, or H, W without one)
  bool relu_in;        // ReLU on the input
  bool has_depthwise;  // depthwise stage present (its geometry in `dw`: groups == C == K)
  ConvShape dw;
};

}  // namespace nasnet
