// Dynamic batching: see batcher.h.
#include "batcher.h"

#include <chrono>
#include <cstring>

namespace edgeq::serve {
namespace {

using Clock = std::chrono::steady_clock;

double us_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::micro>(b - a).count(); }

int64_t items_of(const std::vector<Tensor>& inputs) { return inputs.empty() || inputs[0].rank() == 0 ? 1 : inputs[0].shape()[0]; }

// Same dtypes and the same dims after the first, input by input.
bool compatible(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].dtype() != b[i].dtype() || a[i].rank() != b[i].rank()) return false;
    if (!std::equal(a[i].shape().begin() + 1, a[i].shape().end(), b[i].shape().begin() + 1)) return false;
  }
  return true;
}

}  // namespace

struct Batcher::Pending {
  std::vector<Tensor> inputs;
  int64_t items = 1;
  Clock::time_point enqueued;
  bool leader = false;
  bool done = false;
  Result result;
  std::exception_ptr error;
};

struct Batcher::Queue {
  std::deque<Pending*> waiting;
  bool leader_active = false;
  std::condition_variable cv;
};

Batcher::Batcher(int max_batch, int timeout_us) : max_batch_(std::max(1, max_batch)), timeout_us_(std::max(0, timeout_us)) {}

bool Batcher::batchable(const LoadedModel& model, const std::vector<Tensor>& inputs) {
  const auto& ins = model.session->inputs();
  const auto& outs = model.session->outputs();
  if (inputs.empty() || inputs.size() != ins.size()) return false;
  for (const auto& io : ins)
    if (io.shape.empty() || io.shape[0] >= 0) return false;
  for (const auto& io : outs)
    if (io.shape.empty() || io.shape[0] >= 0) return false;
  const int64_t items = items_of(inputs);
  for (const auto& t : inputs)
    if (t.rank() == 0 || t.shape()[0] != items) return false;
  return items >= 1;
}

Batcher::Result Batcher::run_alone(const LoadedModel& model, const std::vector<Tensor>& inputs) {
  Result r;
  const auto t0 = Clock::now();
  r.outputs = model.session->run(inputs);
  r.compute_us = us_between(t0, Clock::now());
  r.batch = items_of(inputs);
  r.executed = true;
  return r;
}

Batcher::Result Batcher::run(const LoadedModel& model, std::vector<Tensor> inputs) {
  if (max_batch_ <= 1 || !batchable(model, inputs) || items_of(inputs) >= max_batch_) return run_alone(model, inputs);
  Pending self;
  self.items = items_of(inputs);
  self.inputs = std::move(inputs);
  self.enqueued = Clock::now();
  const runtime::Session* key = model.session.get();

  std::unique_lock lock(mu_);
  std::shared_ptr<Queue>& slot = queues_[key];
  if (!slot) slot = std::make_shared<Queue>();
  const std::shared_ptr<Queue> q = slot;
  q->waiting.push_back(&self);
  if (!q->leader_active) {
    q->leader_active = true;
    self.leader = true;
  } else {
    q->cv.notify_all();  // a leader waiting for a full batch may be able to go now
  }
  while (!self.done && !self.leader) q->cv.wait(lock);
  if (self.done) {
    if (self.error) std::rethrow_exception(self.error);
    return std::move(self.result);
  }

  // Leading: wait for a full batch or the deadline, then take the compatible requests in arrival order.
  const auto deadline = self.enqueued + std::chrono::microseconds(timeout_us_);
  const auto queued_items = [&] {
    int64_t n = 0;
    for (const Pending* p : q->waiting)
      if (compatible(p->inputs, self.inputs)) n += p->items;
    return n;
  };
  while (queued_items() < max_batch_ && Clock::now() < deadline) q->cv.wait_until(lock, deadline);
  std::vector<Pending*> batch;
  int64_t total = 0;
  for (auto it = q->waiting.begin(); it != q->waiting.end();) {
    Pending* p = *it;
    if ((p == &self || total + p->items <= max_batch_) && compatible(p->inputs, self.inputs)) {
      batch.push_back(p);
      total += p->items;
      it = q->waiting.erase(it);
    } else {
      ++it;
    }
  }
  lock.unlock();

  const auto started = Clock::now();
  std::exception_ptr error;
  try {
    std::vector<Tensor> merged;
    for (size_t k = 0; k < self.inputs.size(); ++k) {
      Shape shape = self.inputs[k].shape();
      shape[0] = total;
      Tensor t(self.inputs[k].dtype(), shape);
      auto* dst = static_cast<std::byte*>(t.raw());
      for (const Pending* p : batch) {
        std::memcpy(dst, p->inputs[k].raw(), p->inputs[k].nbytes());
        dst += p->inputs[k].nbytes();
      }
      merged.push_back(std::move(t));
    }
    const std::vector<Tensor> outputs = model.session->run(merged);
    const double compute_us = us_between(started, Clock::now());
    for (const Tensor& y : outputs)
      if (y.rank() == 0 || y.shape()[0] != total)
        throw Error(ErrorCode::kInternal, "batched output " + shape_str(y.shape()) + " does not have the batch's " + std::to_string(total) + " rows");
    int64_t row = 0;
    for (Pending* p : batch) {
      p->result.outputs.clear();
      for (const Tensor& y : outputs) {
        Shape shape = y.shape();
        shape[0] = p->items;
        Tensor part(y.dtype(), shape);
        const size_t row_bytes = y.nbytes() / static_cast<size_t>(total);
        std::memcpy(part.raw(), static_cast<const std::byte*>(y.raw()) + row_bytes * static_cast<size_t>(row), part.nbytes());
        p->result.outputs.push_back(std::move(part));
      }
      row += p->items;
      p->result.queue_us = us_between(p->enqueued, started);
      p->result.compute_us = compute_us;
      p->result.batch = total;
      p->result.executed = p == &self;
    }
  } catch (...) {
    error = std::current_exception();
  }

  lock.lock();
  for (Pending* p : batch) {
    p->error = error;
    p->done = true;
  }
  if (!q->waiting.empty()) {
    q->waiting.front()->leader = true;
  } else {
    q->leader_active = false;
    auto it = queues_.find(key);
    if (it != queues_.end() && it->second == q) queues_.erase(it);
  }
  q->cv.notify_all();
  lock.unlock();
  if (error) std::rethrow_exception(error);
  return std::move(self.result);
}

}  // namespace edgeq::serve
