// The runner's batched loop (--batch-docs N > 1), internal to harness/runner.cpp: for a strategy
// that computes several documents per forward pass (Strategy::batches_documents), groups of up to
// N consecutive documents go through one score_batch call, and so does the full-depth baseline
// beside it (so the speedup compares batched with batched). Each call is timed as one region with
// the same ABBA interleaving as the per-document loop (which side goes first alternates per batch);
// every sample of a batch gets the batch's time and counted work divided by the batch size
// (amortised, summing to the batch's), and records the batch size in extra.batch_size. With the
// prefix cache, each document of a batch starts from its own prefix (a batch may span groups), and
// its share of the prefixes' cost is recorded as unbatched.
#pragma once
#include <functional>
#include <vector>

#include "backends/counting.h"
#include "harness/prefix_cache.h"
#include "harness/runner.h"

namespace eeb {

struct BatchLoop {
  TrialInputs& in;
  Strategy& s;
  Strategy* baseline;  // null for the baseline itself
  const TrialOptions& opt;
  CountingBackend& cb;  // what the measured calls run on
  RunContext& ctx;      // over cb
  RunContext& ref_ctx;  // un-counted, for Strategy::reference
  bool timed;
  std::function<Request(int)> request;
  TrialPrefixes* prefixes = nullptr;  // the prefix cache (then each document of a batch starts from
                                      // its prefix, as unbatched); null: off
};

// Scores the documents `todo` (indices into in.docs, in order) in batches; warm-up (opt.warmup > 0)
// is one untimed batch of the first documents per side. Each finished sample goes to `sink`.
void run_batches(BatchLoop& loop, const std::vector<int>& todo,
                 const std::function<void(const SampleRecord&)>& sink);

}  // namespace eeb
