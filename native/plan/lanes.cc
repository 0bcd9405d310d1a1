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
// Threads running a single image's independent nodes (NASNet cells: the two branches of each block,
// the blocks of a cell); more would mostly wait for the branches' joins.
constexpr int kNodeWorkers = 2;

// The runs a batch is split into, in the order lanes take them: kLaneImages images each while
// plenty are left, then fewer, down to single images (OpenMP's guided schedule: a run takes about
// half a lane's share of what is left), so the lanes finish close together even when one thread is
// slower than another (measured here: the thread that opened the team took 80 ms for its 4 runs of
// a 32-image batch where the other took 66).
std::vector<LaneRun> GuidedRuns(int batch, int lanes) {
  std::vector<LaneRun> runs;
  for (int first = 0; first < batch;) {
    const int left = batch - first;
    const int images = std::min(kLaneImages, std::max(1, (left + 2 * lanes - 1) / (2 * lanes)));
    runs.push_back(LaneRun{first, images});
    first += images;
  }
  return runs;
}

}  // namespace

CompiledPlan* CompiledPlan::Lane::ForSize(int images) const {
  for (const auto& p : plans)
    if (p->options_.batch == images) return p.get();
  return nullptr;
}

int CompiledPlan::LaneCount(const PlanOptions& options, const Backend& backend, bool input_grad) {
  if (options.training || !options.image_parallel || input_grad) return 0;
  const int concurrent = backend.ConcurrentSteps();
  // A batch of 1 still takes one lane, whose plan runs the image's independent nodes at once.
  return concurrent >= 2 ? std::min(concurrent, options.batch) : 0;
}

Status CompiledPlan::CreateLanes(const std::string& ir_json, int lanes) {
  lane_runs_ = GuidedRuns(options_.batch, lanes);
  std::vector<int> sizes;
  for (const LaneRun& r : lane_runs_)
    if (std::find(sizes.begin(), sizes.end(), r.images) == sizes.end()) sizes.push_back(r.images);
  lane_batch_ = *std::max_element(sizes.begin(), sizes.end());
  PlanOptions options = options_;
  options.image_parallel = false;
  // A batch of 1 (one lane, one run) runs its independent nodes on the backend's threads instead.
  LaneSetup setup;
  if (options_.batch == 1) setup.node_workers = std::min(backend_->ConcurrentSteps(), kNodeWorkers);
  lanes_.resize(static_cast<size_t>(lanes));
  lane_bytes_ = 0;
  for (Lane& lane : lanes_) {
    size_t bytes = 0;
    for (int size : sizes) {
      options.batch = size;
      std::unique_ptr<CompiledPlan> p;
      Status st = CreateLane(ir_json, store_, options, setup, &p);
      if (!st.ok()) return Status(st.code(), "plan: compiling an image-parallel lane of " + std::to_string(size) +
                                                 " images: " + st.message());
      bytes = std::max(bytes, p->arena_bytes_);
      lane.plans.push_back(std::move(p));
    }
    void* arena = nullptr;
    Status st = backend_->Allocate(std::max<size_t>(bytes, sizeof(float)), &arena);
    if (!st.ok()) return Status(st.code(), "plan: allocating an image-parallel lane's activations: " + st.message());
    lane.arena = static_cast<float*>(arena);
    for (auto& p : lane.plans) {
      p->arena_ = lane.arena;
      p->prepared_ = prepared_;  // the parent prepares the chains' weights before each step
    }
    lane_bytes_ += bytes;
  }
  return Status::Ok();
}

Status CompiledPlan::RunLanes(Mode mode, float* logits, EvalResult* out) {
  const int batch = options_.batch;
  const int runs = static_cast<int>(lane_runs_.size());
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
      const LaneRun& run = lane_runs_[static_cast<size_t>(r)];
      CompiledPlan* p = lane.ForSize(run.images);
      const StepInput in{images_ + static_cast<size_t>(run.first) * image_floats,
                         labels_ == nullptr ? nullptr : labels_ + run.first, nullptr};
      Status done = mode == kPredict ? p->PredictInput(in, logits + static_cast<size_t>(run.first) * classes)
                                     : p->EvaluateInput(in, &results[static_cast<size_t>(r)]);
      if (!done.ok()) {
        failed = true;
        return done;
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
    loss += results[static_cast<size_t>(r)].loss * lane_runs_[static_cast<size_t>(r)].images;
    correct += results[static_cast<size_t>(r)].correct;
  }
  if (out) *out = EvalResult{loss / batch, correct};
  return Status::Ok();
}

}  // namespace nasnet::plan
