// ParameterStore: named float32 tensors shared by plans. Initialization is deterministic in (seed,
// name): the name is hashed into the random stream, so a parameter's initial value does not depend
// on which plan created it or in which order.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "core/random.h"
#include "plan/engine.h"
#include "plan/ir.h"
#include "plan/residency.h"

namespace nasnet {

namespace {

uint64_t HashName(const std::string& name) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, then mixed
  for (unsigned char c : name) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

void Initialize(const ParamInit& init, uint64_t seed, const std::string& name, std::vector<float>* data) {
  const uint64_t stream = HashName(name);
  const size_t n = data->size();
  switch (init.kind) {
    case ParamInit::Kind::kZeros: std::fill(data->begin(), data->end(), 0.0f); break;
    case ParamInit::Kind::kOnes: std::fill(data->begin(), data->end(), 1.0f); break;
    case ParamInit::Kind::kUniform:
      for (size_t i = 0; i < n; ++i)
        (*data)[i] = static_cast<float>((2.0 * uniform01(seed, stream, i) - 1.0) * init.limit);
      break;
    case ParamInit::Kind::kHeNormal: {
      // Box-Muller on pairs of uniforms; 1 - u keeps the log's argument in (0, 1].
      const double stddev = std::sqrt(2.0 / init.fan_in);
      const double two_pi = 6.283185307179586;
      for (size_t i = 0; i < n; i += 2) {
        double u1 = 1.0 - uniform01(seed, stream, 2 * i), u2 = uniform01(seed, stream, 2 * i + 1);
        double r = std::sqrt(-2.0 * std::log(u1));
        (*data)[i] = static_cast<float>(stddev * r * std::cos(two_pi * u2));
        if (i + 1 < n) (*data)[i + 1] = static_cast<float>(stddev * r * std::sin(two_pi * u2));
      }
      break;
    }
  }
}

}  // namespace

uint64_t NextTensorVersion() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

Status ParameterStore::Ensure(const std::string& name, const std::vector<int64_t>& shape, const ParamInit& init,
                              bool trainable, bool weight_decay, uint64_t seed) {
  int64_t n = ir::Numel(shape);
  if (n < 1 || n >= ir::kMaxTensorElements)
    return Status::Invalid("param '" + name + "': shape " + ir::ShapeString(shape) + " is empty or too large");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tensors_.find(name);
  if (it != tensors_.end()) {
    if (it->second->shape != shape)
      return Status::Invalid("param '" + name + "': the store holds shape " + ir::ShapeString(it->second->shape) +
                             " but the graph declares " + ir::ShapeString(shape));
    return Status::Ok();
  }
  auto t = std::make_shared<StoredTensor>();
  t->shape = shape;
  t->data.resize(static_cast<size_t>(n));
  t->trainable = trainable;
  t->weight_decay = weight_decay;
  Initialize(init, seed, name, &t->data);
  tensors_.emplace(name, std::move(t));
  return Status::Ok();
}

StoredTensor* ParameterStore::Find(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tensors_.find(name);
  if (it == tensors_.end() || !plan::SyncHost(it->second.get()).ok()) return nullptr;
  return it->second.get();
}

std::shared_ptr<StoredTensor> ParameterStore::Share(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : it->second;
}

std::vector<std::string> ParameterStore::Names() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  for (const auto& kv : tensors_) names.push_back(kv.first);
  return names;
}

Status ParameterStore::Get(const std::string& name, std::vector<float>* out, std::vector<int64_t>* shape) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tensors_.find(name);
  if (it == tensors_.end()) return Status::NotFound("param '" + name + "' is not in the store");
  if (out) {
    Status st = plan::SyncHost(it->second.get());
    if (!st.ok()) return Status(st.code(), "param '" + name + "': reading it back from the device: " + st.message());
    *out = it->second->data;
  }
  if (shape) *shape = it->second->shape;
  return Status::Ok();
}

Status ParameterStore::Set(const std::string& name, const float* data, size_t n, const std::vector<int64_t>* shape) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    if (shape == nullptr) return Status::NotFound("param '" + name + "' is not in the store (give a shape to create it)");
    int64_t want = ir::Numel(*shape);
    if (want < 1 || want >= ir::kMaxTensorElements)
      return Status::Invalid("param '" + name + "': shape " + ir::ShapeString(*shape) + " is empty or too large");
    if (static_cast<size_t>(want) != n)
      return Status::Invalid("param '" + name + "': shape " + ir::ShapeString(*shape) + " needs " +
                             std::to_string(want) + " values but received " + std::to_string(n));
    auto t = std::make_shared<StoredTensor>();
    t->shape = *shape;
    t->data.assign(data, data + n);
    tensors_.emplace(name, std::move(t));
    return Status::Ok();
  }
  StoredTensor& t = *it->second;
  if (shape != nullptr && *shape != t.shape)
    return Status::Invalid("param '" + name + "': the store holds shape " + ir::ShapeString(t.shape) +
                           " but received shape " + ir::ShapeString(*shape));
  if (n != t.data.size())
    return Status::Invalid("param '" + name + "': expected " + std::to_string(t.data.size()) + " values but received " +
                           std::to_string(n));
  std::memcpy(t.data.data(), data, n * sizeof(float));  // in place: plans bound to it see the new values
  plan::MarkHostWritten(&t);
  return Status::Ok();
}

Status ParameterStore::Remove(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (tensors_.erase(name) == 0) return Status::NotFound("param '" + name + "' is not in the store");
  return Status::Ok();
}

}  // namespace nasnet
