// Residency of stored tensors on device backends (residency.h).
#include "plan/residency.h"

#include <string>

namespace nasnet::plan {

Status DeviceCopy::Bind(const std::string& name, const std::shared_ptr<StoredTensor>& tensor,
                        const std::shared_ptr<Backend>& backend, std::shared_ptr<DeviceCopy>* out) {
  if (std::shared_ptr<DeviceCopy> held = tensor->device.lock()) {
    if (held->backend_ != backend)
      return Status::Invalid("param '" + name + "' is already resident on " + held->backend_->device() +
                             "; a tensor can live on one device at a time (use another store)");
    *out = std::move(held);
    return Status::Ok();
  }
  std::shared_ptr<DeviceCopy> copy(new DeviceCopy());
  copy->tensor_ = tensor;
  copy->backend_ = backend;
  void* p = nullptr;
  const size_t bytes = tensor->data.size() * sizeof(float);
  Status st = backend->Allocate(bytes, &p);
  if (!st.ok()) return Status(st.code(), "param '" + name + "': " + st.message());
  copy->ptr_ = static_cast<float*>(p);
  copy->device_stale_ = true;
  NASNET_RETURN_IF_ERROR(copy->SyncToDevice());
  tensor->device = copy;
  *out = std::move(copy);
  return Status::Ok();
}

DeviceCopy::~DeviceCopy() {
  // A destructor cannot report: Plan::SyncToStore() (called by dispose) is where failures surface.
  (void)SyncToHost();
  backend_->Free(ptr_);
  tensor_->host_stale = false;
}

Status DeviceCopy::SyncToDevice() {
  if (!device_stale_) return Status::Ok();
  NASNET_RETURN_IF_ERROR(backend_->Upload(ptr_, tensor_->data.data(), tensor_->data.size() * sizeof(float)));
  device_stale_ = false;
  return Status::Ok();
}

Status DeviceCopy::SyncToHost() {
  if (!tensor_->host_stale) return Status::Ok();
  NASNET_RETURN_IF_ERROR(backend_->Download(tensor_->data.data(), ptr_, tensor_->data.size() * sizeof(float)));
  tensor_->host_stale = false;
  tensor_->version = NextTensorVersion();
  return Status::Ok();
}

Status SyncHost(StoredTensor* t) {
  if (!t->host_stale) return Status::Ok();
  std::shared_ptr<DeviceCopy> d = t->device.lock();
  if (!d) {
    t->host_stale = false;  // the copy is gone (it wrote itself back when it was freed)
    return Status::Ok();
  }
  return d->SyncToHost();
}

void MarkHostWritten(StoredTensor* t) {
  t->version = NextTensorVersion();
  if (std::shared_ptr<DeviceCopy> d = t->device.lock()) d->MarkHostNewer();
}

}  // namespace nasnet::plan
