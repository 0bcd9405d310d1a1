// Image-parallel inference (plan_impl.h, "Image-parallel inference"): an inference plan's batch split
// into runs of a few images, each run executed whole by one thread on its own plan of the graph.
#include <algorithm>
#include <atomic>

#include "plan/plan_impl.h"

namespace nasnet::plan {

namespace {

// Images per run of a lane. Measured on NASNet-A 2@768 (CIFAR, one thread, AVX-512): 189 img/s at
// 1 image per run, 225 at 2, 231 at 4 and 203 at 32, where a run's activations no longer fit in
// the cache between nodes.
constexpr int kLaneImages = 4;

// Images per run for `batch` images over `lanes` lanes: kLaneImages, or fewer so that every lane
// has a run.
int LaneBatch(int batch, int lanes) { return std::min(kLaneImages, (batch + lanes - 1) / lanes); }

}  // namespace

CompiledPlan* CompiledPlan::Lane::ForSize(int images) const {
  for (const auto& p : plans)
    if (p->options_.batch == images) return p.get();
  return nullptr;
}

int CompiledPlan::LaneCount(const PlanOptions& options, const Backend& backend, bool input_grad) {
  if (options.training || !options.image_parallel || input_grad) return 0;
  const int concurrent = backend.ConcurrentSteps();
  // A batch of 1 still takes one lane: the image runs with serial kernels (see plan_impl.h).
  return concurrent >= 2 ? std::min(concurrent, options.batch) : 0;
}

Status CompiledPlan::CreateLanes(const std::string& ir_json, int lanes) {
  const int batch = options_.batch;
  lane_batch_ = LaneBatch(batch, lanes);
  const int runs = (batch + lane_batch_ - 1) / lane_batch_;
  std::vector<int> sizes{lane_batch_};
  const int last = batch - (runs - 1) * lane_batch_;
  if (last != lane_batch_) sizes.push_back(last);
  PlanOptions options = options_;
  options.image_parallel = false;
  lanes_.resize(static_cast<size_t>(lanes));
  lane_bytes_ = 0;
  for (Lane& lane : lanes_) {
    for (int size : sizes) {
      options.batch = size;
      std::unique_ptr<CompiledPlan> p;
      Status st = Create(ir_json, store_, options, false, &p);
      if (!st.ok()) return Status(st.code(), "plan: compiling an image-parallel lane of " + std::to_string(size) +
                                                 " images: " + st.message());
      p->is_lane_ = true;
      lane_bytes_ += p->arena_bytes_;
      lane.plans.push_back(std::move(p));
    }
  }
  return Status::Ok();
}

Status CompiledPlan::RunLanes(Mode mode, float* logits, EvalResult* out) {
  const int batch = options_.batch;
  const int runs = (batch + lane_batch_ - 1) / lane_batch_;
  const size_t image_floats = static_cast<size_t>(ir::Numel(input_shape()) / batch);
  const size_t classes = static_cast<size_t>(shapes_.classes);
  std::vector<EvalResult> results(static_cast<size_t>(runs));
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  // Each lane takes the next run until none is left (or a run failed): a lane slowed down by
  // another process on its core takes fewer runs instead of holding the others up.
  Status st = backend_->RunConcurrently(static_cast<int>(lanes_.size()), [&](int k) -> Status {
    const Lane& lane = lanes_[static_cast<size_t>(k)];
    for (int r = next++; r < runs && !failed; r = next++) {
      const int first = r * lane_batch_;
      const int images = std::min(lane_batch_, batch - first);
      CompiledPlan* p = lane.ForSize(images);
      const StepInput in{images_ + static_cast<size_t>(first) * image_floats,
                         labels_ == nullptr ? nullptr : labels_ + first, nullptr};
      Status run = mode == kPredict ? p->PredictInput(in, logits + static_cast<size_t>(first) * classes)
                                    : p->EvaluateInput(in, &results[static_cast<size_t>(r)]);
      if (!run.ok()) {
        failed = true;
        return run;
      }
    }
    return Status::Ok();
  });
  NASNET_RETURN_IF_ERROR(st);
  if (mode == kPredict) return Status::Ok();
  // The runs' mean losses weighted by their images, summed in run order (the same floats whichever
  // lane ran which run).
  double loss = 0;
  int correct = 0;
  for (int r = 0; r < runs; ++r) {
    const int images = std::min(lane_batch_, batch - r * lane_batch_);
    loss += results[static_cast<size_t>(r)].loss * images;
    correct += results[static_cast<size_t>(r)].correct;
  }
  if (out) *out = EvalResult{loss / batch, correct};
  return Status::Ok();
}

}  // namespace nasnet::plan
