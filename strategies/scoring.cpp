#include "strategies/scoring.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"

namespace eeb {

std::vector<int> all_layers(int n_layers) { return first_layers(n_layers); }

std::vector<int> first_layers(int k) {
  std::vector<int> p(k);
  std::iota(p.begin(), p.end(), 0);
  return p;
}

int max_continuation(const Request& req) {
  size_t m = 0;
  for (const auto& c : req.continuations) m = std::max(m, c.size());
  return static_cast<int>(m);
}

std::unique_ptr<PrefixState> compute_prefix(Backend& b, std::span<const int32_t> tokens,
                                            std::vector<int> plan) {
  if (tokens.empty()) throw Error("compute_prefix: empty prefix");
  auto p = std::make_unique<PrefixState>();
  p->tokens.assign(tokens.begin(), tokens.end());
  p->plan = std::move(plan);
  p->kv = b.new_cache(p->length());
  auto h = b.embed(tokens, 0);
  for (int l : p->plan) b.run_layer(l, *h, *p->kv);
  return p;
}

ContextStart start_context(Backend& b, const Request& req, const PrefixState* prefix,
                           std::span<const int> plan, int capacity) {
  const int n_ctx = static_cast<int>(req.context.size());
  const std::string who = "request " + std::to_string(req.index);
  if (n_ctx == 0) throw Error(who + ": empty context");
  ContextStart s;
  if (!prefix) {
    s.kv = b.new_cache(capacity);
    s.h = b.embed(req.context, 0);
    return s;
  }
  const int P = prefix->length();
  // The scoring position (the last context token) must be computed for this document.
  if (P >= n_ctx || !std::equal(prefix->tokens.begin(), prefix->tokens.end(), req.context.begin()))
    throw Error(who + ": the cached prefix (" + std::to_string(P) +
                " tokens) is not a proper prefix of its context (" + std::to_string(n_ctx) + " tokens)");
  if (plan.size() > prefix->plan.size() || !std::equal(plan.begin(), plan.end(), prefix->plan.begin()))
    throw Error(who + ": the layer plan is not a leading part of the cached prefix's plan");
  s.kv = b.fork_cache(*prefix->kv, P, capacity);
  s.h = b.embed(std::span<const int32_t>(req.context).subspan(P), P);
  s.pos0 = P;
  return s;
}

static void run_plan(Backend& b, std::span<const int> plan, Hidden& h, KVCache& kv) {
  for (int l : plan) b.run_layer(l, h, kv);
}

std::vector<ContinuationPass> continuation_passes(const Request& req) {
  std::vector<ContinuationPass> out;
  for (size_t ci = 0; ci < req.continuations.size(); ++ci) {
    const auto& cont = req.continuations[ci];
    if (cont.size() < 2) continue;
    const std::span<const int32_t> fed(cont.data(), cont.size() - 1);
    auto same = std::find_if(out.begin(), out.end(), [&](const ContinuationPass& p) {
      return std::equal(p.fed.begin(), p.fed.end(), fed.begin(), fed.end());
    });
    if (same == out.end()) same = out.insert(out.end(), ContinuationPass{{fed.begin(), fed.end()}, {}});
    same->choices.push_back(static_cast<int>(ci));
  }
  return out;
}

namespace {

// One candidate_logprobs call over rows [0, offsets.size() - 1) of h.
void read_rows(Backend& b, const Hidden& h, const std::vector<int>& offsets, const std::vector<int32_t>& targets,
               std::vector<double>& lps, std::vector<int32_t>& tops) {
  const int rows = static_cast<int>(offsets.size()) - 1;
  lps.resize(targets.size()), tops.resize(rows);
  b.candidate_logprobs(h, 0, rows, offsets, targets, lps.data(), tops.data());
}

int unscored(const Request& req, size_t c) { return c < req.unscored.size() ? req.unscored[c] : 0; }

}  // namespace

void score_first_tokens(Backend& b, std::span<const ScoreTarget> items, const Hidden& h) {
  std::vector<int> offsets{0};
  std::vector<int32_t> targets;
  for (const auto& it : items) {
    for (const auto& c : it.req->continuations) targets.push_back(c[0]);
    offsets.push_back(static_cast<int>(targets.size()));
  }
  std::vector<double> lps;
  std::vector<int32_t> tops;
  read_rows(b, h, offsets, targets, lps, tops);
  for (size_t i = 0; i < items.size(); ++i) {
    const Request& req = *items[i].req;
    for (size_t c = 0; c < req.continuations.size(); ++c) {
      // Partial scoring: the first `skip` tokens are the choice's own context, conditioned on only.
      if (unscored(req, c) != 0) continue;
      items[i].out->loglik[c] += lps[offsets[i] + c];
      items[i].out->is_greedy[c] = items[i].out->is_greedy[c] && tops[i] == req.continuations[c][0];
    }
  }
}

void score_passes(Backend& b, std::span<const ScoreTarget> items, const Hidden& h) {
  // Row j of a pass: token j + 1 of each of its choices.
  std::vector<int> offsets{0};
  std::vector<int32_t> targets;
  for (const auto& it : items)
    for (size_t j = 0; j < it.pass->fed.size(); ++j) {
      for (int c : it.pass->choices) targets.push_back(it.req->continuations[c][j + 1]);
      offsets.push_back(static_cast<int>(targets.size()));
    }
  std::vector<double> lps;
  std::vector<int32_t> tops;
  read_rows(b, h, offsets, targets, lps, tops);
  size_t row = 0;
  for (const auto& it : items) {
    const int rows = static_cast<int>(it.pass->fed.size()), nc = static_cast<int>(it.pass->choices.size());
    for (int w = 0; w < nc; ++w) {
      const int c = it.pass->choices[w];
      for (int j = std::max(0, unscored(*it.req, c) - 1); j < rows; ++j) {
        it.out->loglik[c] += lps[offsets[row + j] + w];
        it.out->is_greedy[c] = it.out->is_greedy[c] && tops[row + j] == it.req->continuations[c][j + 1];
      }
    }
    row += rows;
  }
}

ChoiceScores score_continuations(Backend& b, const Request& req, std::span<const int> plan,
                                 KVCache& kv, const Hidden& ctx_last) {
  const int n_ctx = static_cast<int>(req.context.size());
  const int L = b.config().n_layers;
  for (const auto& c : req.continuations)
    if (c.empty()) throw Error("request " + std::to_string(req.index) + ": empty continuation");
  ChoiceScores out;
  out.loglik.assign(req.continuations.size(), 0.0);
  out.is_greedy.assign(req.continuations.size(), true);
  if (req.continuations.empty()) return out;
  const ScoreTarget first{&req, &out};
  score_first_tokens(b, std::span(&first, 1), ctx_last);
  // Each pass feeds its tokens after the context (the cache rolled back afterwards).
  for (const ContinuationPass& pass : continuation_passes(req)) {
    auto h = b.embed(pass.fed, n_ctx);
    run_plan(b, plan, *h, kv);
    const ScoreTarget t{&req, &out, &pass};
    score_passes(b, std::span(&t, 1), *h);
    kv.truncate_all(n_ctx, L);
  }
  return out;
}

ChoiceScores score_choices(Backend& b, const Request& req, std::span<const int> plan,
                           const PrefixState* prefix) {
  const int n_ctx = static_cast<int>(req.context.size());
  auto s = start_context(b, req, prefix, plan, n_ctx + max_continuation(req));
  run_plan(b, plan, *s.h, *s.kv);
  auto last = b.slice(*s.h, n_ctx - 1 - s.pos0, 1);
  return score_continuations(b, req, plan, *s.kv, *last);
}

int argmax_choice(const std::vector<double>& ll) {
  int best = 0;
  for (int i = 1; i < static_cast<int>(ll.size()); ++i)
    if (ll[i] > ll[best]) best = i;
  return ll.empty() ? -1 : best;
}

size_t utf8_chars(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // every byte but continuation bytes starts one
  return n;
}

// lm-eval's ConfigurableTask.process_results for multiple_choice (lm_eval/api/task.py):
//   choices = self.doc_to_choice(doc)
//   completion_len = np.array([float(len(i)) for i in choices])
//   pred_norm = np.argmax(lls / completion_len)
// doc_to_choice gives the choices without target_delimiter (the requests are target_delimiter +
// choice), and len() counts code points. An empty choice (lm-eval: a division by zero) counts as 1.
int argmax_choice_norm(const std::vector<double>& ll, const std::vector<std::string>& continuations,
                       std::string_view delim) {
  std::vector<double> norm(ll.size());
  for (size_t i = 0; i < ll.size(); ++i) {
    std::string_view choice = continuations.at(i);
    if (choice.substr(0, delim.size()) == delim) choice.remove_prefix(delim.size());
    norm[i] = ll[i] / static_cast<double>(std::max<size_t>(1, utf8_chars(choice)));
  }
  return argmax_choice(norm);
}

int argmax_choice_norm(const std::vector<double>& ll, const Doc& doc) {
  // Partial scoring (multiple-input tasks): lm-eval's doc_to_choice is then the list of choice
  // contexts, and completion_len is taken over those, whatever the shared continuation is.
  if (!doc.choice_contexts.empty()) return argmax_choice_norm(ll, doc.choice_contexts, "");
  return argmax_choice_norm(ll, doc.choices, doc.target_delimiter);
}

std::vector<std::vector<double>> per_exit_logliks(Backend& b, const Request& req,
                                                  const PrefixState* prefix) {
  const int L = b.config().n_layers;
  const int n_ctx = static_cast<int>(req.context.size());
  const auto all = all_layers(L);
  auto s = start_context(b, req, prefix, all, n_ctx + max_continuation(req));
  auto& kv = s.kv;
  auto& h = s.h;
  std::vector<std::vector<double>> out;
  for (int k = 1; k <= L; ++k) {
    b.run_layer(k - 1, *h, *kv);
    auto last = b.slice(*h, n_ctx - 1 - s.pos0, 1);
    // Layers >= k have no cache for the context yet, so continuations only use layers < k.
    auto plan = first_layers(k);
    out.push_back(score_continuations(b, req, plan, *kv, *last).loglik);
  }
  return out;
}

}  // namespace eeb
