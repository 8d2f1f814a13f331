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

ChoiceScores score_continuations(Backend& b, const Request& req, std::span<const int> plan,
                                 KVCache& kv, const Hidden& ctx_last) {
  const int n_ctx = static_cast<int>(req.context.size());
  const int L = b.config().n_layers;
  ChoiceScores out;
  for (size_t ci = 0; ci < req.continuations.size(); ++ci) {
    const auto& cont = req.continuations[ci];
    if (cont.empty()) throw Error("request " + std::to_string(req.index) + ": empty continuation");
    // Partial scoring: the first `skip` tokens are the choice's own context, conditioned on only.
    const int skip = ci < req.unscored.size() ? req.unscored[ci] : 0;
    double sum = 0;
    bool greedy = true;
    double lp = 0;
    int32_t top = -1;
    b.token_logprobs(ctx_last, 0, std::span<const int32_t>(cont.data(), 1), &lp, &top);
    if (skip == 0) {
      sum += lp;
      greedy = top == cont[0];
    }
    const int k = static_cast<int>(cont.size());
    if (k > 1) {
      // Feed continuation tokens 0..k-2 after the context; row j predicts token j+1.
      auto h = b.embed(std::span<const int32_t>(cont.data(), k - 1), n_ctx);
      run_plan(b, plan, *h, kv);
      std::vector<double> lps(k - 1);
      std::vector<int32_t> tops(k - 1);
      b.token_logprobs(*h, 0, std::span<const int32_t>(cont.data() + 1, k - 1), lps.data(),
                       tops.data());
      for (int j = std::max(0, skip - 1); j < k - 1; ++j) {
        sum += lps[j];
        greedy = greedy && tops[j] == cont[j + 1];
      }
      kv.truncate_all(n_ctx, L);
    }
    out.loglik.push_back(sum);
    out.is_greedy.push_back(greedy);
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
