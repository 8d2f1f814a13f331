// Loglikelihood scoring of multiple-choice requests through the backend interface, with an arbitrary
// layer plan (the layer indices to run, in order). Every strategy that changes *which* layers run
// (full depth, removal, lesions, static exits) scores through score_choices; exit policies decide the
// plan per sample from the logit lens at the scoring position (the last context token).
#pragma once
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

// Layer plans.
std::vector<int> all_layers(int n_layers);
std::vector<int> first_layers(int k);

// Runs the context through `plan`, then each choice's continuation (KV cache rolled back between
// choices) and returns their log-likelihoods, read through final norm + LM head after the plan.
ChoiceScores score_choices(Backend& b, const Request& req, std::span<const int> plan);

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
std::vector<std::vector<double>> per_exit_logliks(Backend& b, const Request& req);

}  // namespace eeb
