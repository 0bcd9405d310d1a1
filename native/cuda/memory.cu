// Device memory and streams for the callers of the CUDA kernels (plan, tests, benchmarks).
#include <string>

#include "cuda/common.cuh"

namespace nasnet::cuda {

Status device_available() {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();
    return Status::Unavailable(std::string("no CUDA device: cudaGetDeviceCount failed with ") +
                               cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
  }
  if (count == 0) return Status::Unavailable("no CUDA device: the driver reports 0 devices");
  return Status::Ok();
}

Status device_malloc(void** ptr, size_t bytes) {
  *ptr = nullptr;
  CUDA_CHECK(cudaMalloc(ptr, bytes == 0 ? 1 : bytes));
  return Status::Ok();
}

Status device_free(void* ptr) {
  if (ptr != nullptr) CUDA_CHECK(cudaFree(ptr));
  return Status::Ok();
}

Status copy_to_device(void* dst, const void* host_src, size_t bytes, Stream stream) {
  if (bytes == 0) return Status::Ok();
  CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, as_stream(stream)));
  return Status::Ok();
}

Status copy_to_host(void* host_dst, const void* src, size_t bytes, Stream stream) {
  if (bytes == 0) return Status::Ok();
  CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, as_stream(stream)));
  CUDA_CHECK(cudaStreamSynchronize(as_stream(stream)));
  return Status::Ok();
}

Status memset_zero(void* dst, size_t bytes, Stream stream) {
  if (bytes == 0) return Status::Ok();
  CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, as_stream(stream)));
  return Status::Ok();
}

Status synchronize(Stream stream) {
  CUDA_CHECK(cudaStreamSynchronize(as_stream(stream)));
  return Status::Ok();
}

}  // namespace nasnet::cuda
