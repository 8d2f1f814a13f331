// Several documents per forward pass: multiple-choice requests scored together through one fixed
// layer plan, with Backend::run_layer_batch, giving per request what score_choices gives.
//
// Design: all contexts run through the plan as one batch (each request its own KV cache, a fork of
// its cached prefix's when it has one, so only the rest of its context runs). Every choice's first
// token is then read from its document's last context row, one LM-head row per document (stacked:
// one call). The continuation passes (scoring.h: choices feeding the same tokens share one) go in
// rounds: round r batches pass r of every request that has one, each over its own request's cache,
// which is rolled back to the context afterwards (as score_continuations rolls back between
// passes). So no cache is ever copied, and the pass rows of N documents share one GEMM and one
// LM-head call; the passes of one document are not batched with each other (that would need a
// fork of the context cache per pass). Those are exactly the LM-head rows and layer rows of
// score_choices, so the counted work is the same as scoring the requests one by one.
//
// Strategies that run a fixed plan (full, static, layer removal, lesion) implement
// Strategy::score_batch with this. Exit strategies decide per document and keep the default; they
// could batch the layers below the earliest exit of the batch (not done).
#pragma once
#include <span>
#include <vector>

#include "backends/backend.h"
#include "strategies/scoring.h"
#include "strategies/strategy.h"
#include "tasks/task.h"

namespace eeb {

// What score_choices(b, reqs[i], plan, prefixes[i]) returns, for every i, computed in batches of
// documents. Errors as score_choices (empty context or continuation, a prefix that does not start the
// context or whose plan does not start with `plan`) before any layer runs. prefixes: empty (every
// context from scratch) or one entry per request, null where that request has none.
std::vector<ChoiceScores> score_choices_batch(Backend& b, std::span<const Request> reqs,
                                              std::span<const int> plan,
                                              std::span<const PrefixState* const> prefixes = {});

// Records of score_choices_batch (make_record with `layers` executed per sample).
// ctx.prefixes as above.
std::vector<SampleRecord> score_records_batch(RunContext& ctx, std::span<const Request> reqs,
                                              std::span<const int> plan, double layers);

}  // namespace eeb
