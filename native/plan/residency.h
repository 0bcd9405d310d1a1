// A stored tensor's copy in a device backend's memory (engine.h, StoredTensor: "Residency"). Device
// plans that bind the same tensor share one DeviceCopy; it lives as long as one of them does.
//
// Two flags say which copy is newer: StoredTensor::host_stale (a device step wrote it) and
// DeviceCopy::device_stale_ (the host copy was set or a CPU step wrote it). Every reader syncs the
// copy it reads first; every writer marks the other copy stale.
#pragma once
#include <memory>

#include "core/status.h"
#include "plan/backend.h"
#include "plan/engine.h"

namespace nasnet::plan {

class DeviceCopy {
 public:
  // The tensor's device copy on `backend`, created (and uploaded) when it has none. A tensor has
  // at most one device copy: binding it on a second device is an error naming the tensor.
  static Status Bind(const std::string& name, const std::shared_ptr<StoredTensor>& tensor,
                     const std::shared_ptr<Backend>& backend, std::shared_ptr<DeviceCopy>* out);
  ~DeviceCopy();  // writes a newer device copy back to the host, then frees it
  DeviceCopy(const DeviceCopy&) = delete;
  DeviceCopy& operator=(const DeviceCopy&) = delete;

  float* data() const { return ptr_; }
  // Before a device step reads it: uploads the host copy when that is newer.
  Status SyncToDevice();
  // After a device step wrote it.
  void MarkDeviceNewer() { tensor_->host_stale = true; }
  // Downloads the device copy when it is newer.
  Status SyncToHost();
  // After the host copy was written (ParameterStore::Set, a CPU step).
  void MarkHostNewer() {
    tensor_->host_stale = false;
    device_stale_ = true;
  }

 private:
  DeviceCopy() = default;
  std::shared_ptr<StoredTensor> tensor_;
  std::shared_ptr<Backend> backend_;
  float* ptr_ = nullptr;
  bool device_stale_ = true;
};

// The host copy of `t` is current after this (a no-op without a newer device copy).
Status SyncHost(StoredTensor* t);
// After the host copy of `t` was written: gives it a new version and marks its device copy (if any)
// stale.
void MarkHostWritten(StoredTensor* t);

}  // namespace nasnet::plan
