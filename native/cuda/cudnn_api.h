// Our own declarations of the few cuDNN 9 functions the CUDA backend uses (the legacy convolution
// API: descriptors, heuristics, forward, backward data, backward filter), so the build needs no
// cuDNN headers. The library is opened at run time by core/cudnn_probe.cc; load_cudnn_api()
// resolves these entries from that handle with dlsym. Values follow cudnn_graph.h / cudnn_cnn.h
// of cuDNN 9 (they are unchanged since cuDNN 8).
#pragma once
#include <cstddef>

#include "core/status.h"

namespace nasnet {
// The handle core/cudnn_probe.cc opened (nullptr when cuDNN was not found). Stays open.
void* cudnn_library_handle();
}  // namespace nasnet

namespace nasnet::cudnn {

using Handle = void*;            // cudnnHandle_t
using TensorDescriptor = void*;  // cudnnTensorDescriptor_t
using FilterDescriptor = void*;  // cudnnFilterDescriptor_t
using ConvDescriptor = void*;    // cudnnConvolutionDescriptor_t
using CudaStream = void*;        // cudaStream_t
using StatusT = int;             // cudnnStatus_t

constexpr StatusT kStatusSuccess = 0;         // CUDNN_STATUS_SUCCESS
constexpr int kDataFloat = 0;                 // CUDNN_DATA_FLOAT
constexpr int kTensorNchw = 0;                // CUDNN_TENSOR_NCHW
constexpr int kCrossCorrelation = 1;          // CUDNN_CROSS_CORRELATION (CUDNN_CONVOLUTION = 0)
constexpr int kDefaultMath = 0;               // CUDNN_DEFAULT_MATH (lets fp32 run as TF32 on sm_80+)
constexpr int kFmaMath = 3;                   // CUDNN_FMA_MATH (true fp32, no tensor cores)
constexpr int kDeterministic = 1;             // CUDNN_DETERMINISTIC (CUDNN_NON_DETERMINISTIC = 0)
constexpr int kFwdAlgoCount = 8;              // CUDNN_CONVOLUTION_FWD_ALGO_COUNT
constexpr int kBwdDataAlgoCount = 6;          // CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT
constexpr int kBwdFilterAlgoCount = 7;        // CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT

// cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t share this layout.
struct AlgoPerf {
  int algo;         // the algorithm enum
  StatusT status;
  float time;       // milliseconds (Find*) or -1 (Get*_v7)
  size_t memory;    // workspace bytes
  int determinism;  // cudnnDeterminism_t
  int math_type;    // cudnnMathType_t
  int reserved[3];
};

struct Api {
  size_t (*GetVersion)();
  const char* (*GetErrorString)(StatusT);
  StatusT (*Create)(Handle*);
  StatusT (*Destroy)(Handle);
  StatusT (*SetStream)(Handle, CudaStream);
  StatusT (*CreateTensorDescriptor)(TensorDescriptor*);
  StatusT (*SetTensor4dDescriptor)(TensorDescriptor, int format, int data_type, int n, int c, int h, int w);
  StatusT (*DestroyTensorDescriptor)(TensorDescriptor);
  StatusT (*CreateFilterDescriptor)(FilterDescriptor*);
  StatusT (*SetFilter4dDescriptor)(FilterDescriptor, int data_type, int format, int k, int c, int h, int w);
  StatusT (*DestroyFilterDescriptor)(FilterDescriptor);
  StatusT (*CreateConvolutionDescriptor)(ConvDescriptor*);
  StatusT (*SetConvolution2dDescriptor)(ConvDescriptor, int pad_h, int pad_w, int u, int v, int dilation_h,
                                        int dilation_w, int mode, int compute_type);
  StatusT (*SetConvolutionGroupCount)(ConvDescriptor, int groups);
  StatusT (*SetConvolutionMathType)(ConvDescriptor, int math_type);
  StatusT (*DestroyConvolutionDescriptor)(ConvDescriptor);
  StatusT (*GetConvolution2dForwardOutputDim)(ConvDescriptor, TensorDescriptor x, FilterDescriptor w, int* n, int* c,
                                              int* h, int* w_out);
  StatusT (*GetConvolutionForwardAlgorithm_v7)(Handle, TensorDescriptor x, FilterDescriptor w, ConvDescriptor,
                                               TensorDescriptor y, int requested, int* returned, AlgoPerf* perf);
  StatusT (*GetConvolutionBackwardDataAlgorithm_v7)(Handle, FilterDescriptor w, TensorDescriptor dy, ConvDescriptor,
                                                    TensorDescriptor dx, int requested, int* returned,
                                                    AlgoPerf* perf);
  StatusT (*GetConvolutionBackwardFilterAlgorithm_v7)(Handle, TensorDescriptor x, TensorDescriptor dy,
                                                      ConvDescriptor, FilterDescriptor dw, int requested,
                                                      int* returned, AlgoPerf* perf);
  StatusT (*GetConvolutionForwardWorkspaceSize)(Handle, TensorDescriptor x, FilterDescriptor w, ConvDescriptor,
                                                TensorDescriptor y, int algo, size_t* bytes);
  StatusT (*GetConvolutionBackwardDataWorkspaceSize)(Handle, FilterDescriptor w, TensorDescriptor dy, ConvDescriptor,
                                                     TensorDescriptor dx, int algo, size_t* bytes);
  StatusT (*GetConvolutionBackwardFilterWorkspaceSize)(Handle, TensorDescriptor x, TensorDescriptor dy,
                                                       ConvDescriptor, FilterDescriptor dw, int algo, size_t* bytes);
  StatusT (*ConvolutionForward)(Handle, const void* alpha, TensorDescriptor x_desc, const void* x,
                                FilterDescriptor w_desc, const void* w, ConvDescriptor, int algo, void* workspace,
                                size_t workspace_bytes, const void* beta, TensorDescriptor y_desc, void* y);
  StatusT (*ConvolutionBackwardData)(Handle, const void* alpha, FilterDescriptor w_desc, const void* w,
                                     TensorDescriptor dy_desc, const void* dy, ConvDescriptor, int algo,
                                     void* workspace, size_t workspace_bytes, const void* beta,
                                     TensorDescriptor dx_desc, void* dx);
  StatusT (*ConvolutionBackwardFilter)(Handle, const void* alpha, TensorDescriptor x_desc, const void* x,
                                       TensorDescriptor dy_desc, const void* dy, ConvDescriptor, int algo,
                                       void* workspace, size_t workspace_bytes, const void* beta,
                                       FilterDescriptor dw_desc, void* dw);
};

// Resolves every entry once (thread-safe). Unavailable when cuDNN was not found (with the probe's
// reason) or when a function is missing (naming it); *api is then nullptr.
Status load_api(const Api** api);

}  // namespace nasnet::cudnn
