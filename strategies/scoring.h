// Loglikelihood scoring of multiple-choice requests through the backend interface, with an arbitrary
// layer plan (the layer indices to run, in order). Every strategy that changes *which* layers run
// (full depth, removal, lesions, static exits) scores through score_choices; exit policies decide the
// plan per sample from the logit lens at the scoring position (the last context token).
#pragma once
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "backends/backend.h"
#include "tasks/task.h"

namespace eeb {

struct ChoiceScores {
  std::vector<double> loglik;   // sum of log p(continuation tokens | context), per choice
  std::vector<bool> is_greedy;  // every continuation token is the argmax
};

// A shared context prefix (few-shot examples, the MMLU description) already run through a layer plan:
// computed once by the runner (timed and counted as its own figure), forked per document. Exact for
// any plan that runs layers in order: a layer's keys/values depend only on the layers before it in
// the plan, so a document whose plan is a leading part of `plan` reads the right keys/values.
struct PrefixState {
  std::vector<int32_t> tokens;  // the first tokens.size() context tokens of every document using it
  std::vector<int> plan;        // the layers it ran through, in order
  std::unique_ptr<KVCache> kv;  // the layers of `plan`: positions [0, tokens.size())
  int length() const { return static_cast<int>(tokens.size()); }
};

// Runs `tokens` (from position 0) through `plan` into a new cache of exactly their length.
std::unique_ptr<PrefixState> compute_prefix(Backend& b, std::span<const int32_t> tokens,
                                            std::vector<int> plan);

// Where a document's context computation starts: a cache of `capacity` positions and the context
// rows still to run (from position pos0). No prefix: an empty cache and the whole context. With one:
// a fork of its cache and the suffix after it. Error unless the prefix's tokens begin req.context,
// leave at least its last token (the scoring position) to the document, and `plan` is a leading part
// of the prefix's plan.
struct ContextStart {
  std::unique_ptr<KVCache> kv;
  std::unique_ptr<Hidden> h;
  int pos0 = 0;
};
ContextStart start_context(Backend& b, const Request& req, const PrefixState* prefix,
                           std::span<const int> plan, int capacity);
int max_continuation(const Request& req);  // longest continuation, in tokens

// Layer plans.
std::vector<int> all_layers(int n_layers);
std::vector<int> first_layers(int k);

// Runs the context through `plan`, then each choice's continuation (KV cache rolled back between
// choices) and returns their log-likelihoods, read through final norm + LM head after the plan.
// With a prefix (see PrefixState), the context starts from a fork of its cache.
ChoiceScores score_choices(Backend& b, const Request& req, std::span<const int> plan,
                           const PrefixState* prefix = nullptr);

// The continuation passes a request's choices need after the context. A choice of k tokens feeds
// its first k - 1 (row j predicts token j + 1); choices that feed the same tokens share one pass,
// computed once, and their differing last tokens are read from the same rows (MMLU's " B", " C",
// " D" are "▁" + a letter with a SentencePiece vocabulary: one pass for the three). Single-token
// choices need no pass (their token is read from the last context row). First-appearance order.
struct ContinuationPass {
  std::vector<int32_t> fed;  // the shared tokens fed after the context
  std::vector<int> choices;  // choices with these fed tokens (each of fed.size() + 1 tokens)
};
std::vector<ContinuationPass> continuation_passes(const Request& req);

// Read-outs of several requests at once (one candidate_logprobs call, one LM-head row per row read),
// each into its own ChoiceScores (one entry per choice, honouring partial scoring):
//   score_first_tokens: row i of h is request i's last context row; adds each choice's first token
//   (and sets is_greedy from it).
//   score_passes: h holds each item's pass rows in order (fed.size() rows each); adds the tokens after.
struct ScoreTarget {
  const Request* req;
  ChoiceScores* out;
  const ContinuationPass* pass = nullptr;  // score_passes only
};
void score_first_tokens(Backend& b, std::span<const ScoreTarget> items, const Hidden& h);
void score_passes(Backend& b, std::span<const ScoreTarget> items, const Hidden& h);

// Same, but with the context already run through `plan` into kv/ctx_hidden (so exit policies can
// decide the plan while running the context). ctx_last is the last context row after the plan.
ChoiceScores score_continuations(Backend& b, const Request& req, std::span<const int> plan,
                                 KVCache& kv, const Hidden& ctx_last);

// Predictions from log-likelihoods, first index on ties (as numpy argmax in lm-eval): argmax (acc),
// and argmax of loglik / the choice's length in characters (acc_norm), the choice being each
// continuation without its leading target_delimiter (lm-eval's doc_to_choice string).
int argmax_choice(const std::vector<double>& loglik);
int argmax_choice_norm(const std::vector<double>& loglik, const std::vector<std::string>& continuations,
                       std::string_view target_delimiter = " ");
int argmax_choice_norm(const std::vector<double>& loglik, const Doc& doc);
// Python's len() of a UTF-8 string: its code points.
size_t utf8_chars(std::string_view s);

// Per-layer choice log-likelihoods: out[k-1][c] = loglik of choice c exiting after layer k (k = 1..L),
// from one full-depth context pass (the first k layers' KV cache is what an exit at k would have).
// A prefix must have been run through every layer (all_layers).
std::vector<std::vector<double>> per_exit_logliks(Backend& b, const Request& req,
                                                  const PrefixState* prefix = nullptr);

}  // namespace eeb
