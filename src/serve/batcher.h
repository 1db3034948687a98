// Dynamic batching (--max-batch, --batch-timeout-us): concurrent requests for one model version are
// merged along dim 0 into one Session::run and the outputs split back, Triton's dynamic batcher in
// miniature. The first request to find no batch forming leads one: it waits until max_batch items are
// queued or its timeout passes, runs the batch, hands each request its rows, and passes the lead to the
// first request still waiting. Requests merge only when every input's dims after the first agree and the
// model leaves dim 0 open on its inputs and outputs; others run alone. Off (max_batch 1): run() calls the
// session directly.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "edgeq/serve.h"

namespace edgeq::serve {

class Batcher {
 public:
  Batcher(int max_batch, int timeout_us);

  struct Result {
    std::vector<Tensor> outputs;
    double queue_us = 0;    // enqueued -> its batch started
    double compute_us = 0;  // the batch's Session::run
    int64_t batch = 0;      // items in the run it was part of
    bool executed = false;  // this request led (ran) the batch: count one execution for it
  };
  Result run(const LoadedModel& model, std::vector<Tensor> inputs);

  // Whether a request with these inputs can share a run with others (see the header comment).
  static bool batchable(const LoadedModel& model, const std::vector<Tensor>& inputs);

 private:
  struct Pending;
  struct Queue;
  Result run_alone(const LoadedModel& model, const std::vector<Tensor>& inputs);
  int max_batch_;
  int timeout_us_;
  std::mutex mu_;
  std::map<const runtime::Session*, std::shared_ptr<Queue>> queues_;
};

}  // namespace edgeq::serve
