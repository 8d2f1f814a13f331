#include "strategies/decoding.h"

#include "core/error.h"

namespace eeb {

static int32_t argmax_row(Backend& b, const Hidden& h, int row) {
  return static_cast<int32_t>(b.exit_features(h, row).top1);
}

static void check_prompt(Backend& b, std::span<const int32_t> prompt, int max_new) {
  if (prompt.empty()) throw Error("decoding: empty prompt");
  if (max_new < 1) throw Error("decoding: max_new_tokens must be >= 1");
  const int cap = b.config().max_seq_len;
  if (cap > 0 && static_cast<int>(prompt.size()) + max_new > cap)
    throw Error("decoding: prompt (" + std::to_string(prompt.size()) + " tokens) + " +
                std::to_string(max_new) + " new tokens exceed the model's context of " +
                std::to_string(cap));
}

DecodeResult greedy_decode(Backend& b, std::span<const int32_t> prompt, int max_new, int eos) {
  check_prompt(b, prompt, max_new);
  const int L = b.config().n_layers;
  const int n = static_cast<int>(prompt.size());
  auto kv = b.new_cache(n + max_new);
  auto h = b.embed(prompt, 0);
  run_layers(b, 0, L, *h, *kv);
  DecodeResult r;
  int32_t next = argmax_row(b, *h, n - 1);
  for (int i = 0;; ++i) {
    r.tokens.push_back(next);
    if (next == eos || static_cast<int>(r.tokens.size()) >= max_new) break;
    auto x = b.embed(std::span<const int32_t>(&next, 1), n + i);
    run_layers(b, 0, L, *x, *kv);
    r.layer_evals += L;
    r.layer_passes += L;
    next = argmax_row(b, *x, 0);
  }
  return r;
}

DecodeResult self_speculative_decode(Backend& b, std::span<const int32_t> prompt, int max_new,
                                     int eos, int E, int d) {
  check_prompt(b, prompt, max_new);
  const int L = b.config().n_layers;
  if (E < 1 || E >= L) throw Error("layerskip: exit layer E must be in [1, " + std::to_string(L - 1) + "]");
  if (d < 1) throw Error("layerskip: draft length d must be >= 1");
  const int n = static_cast<int>(prompt.size());
  auto kv = b.new_cache(n + max_new + d + 1);
  // The prompt goes through every layer; its last row gives the first token.
  auto h = b.embed(prompt, 0);
  run_layers(b, 0, L, *h, *kv);
  DecodeResult r;
  int32_t x = argmax_row(b, *h, n - 1);  // next token: known, not yet run through the model
  int pos = n;                           // position of x; every layer's cache has length pos
  r.tokens.push_back(x);
  while (x != eos && static_cast<int>(r.tokens.size()) < max_new) {
    const int room = max_new - static_cast<int>(r.tokens.size());
    const int dd = std::min(d, room);
    // Draft: run x, d1, .., d_dd through layers [0, E); keep their layer-E states.
    std::vector<std::unique_ptr<Hidden>> states;
    std::vector<int32_t> drafts;
    int32_t cur = x;
    for (int j = 0; j <= dd; ++j) {
      auto s = b.embed(std::span<const int32_t>(&cur, 1), pos + j);
      run_layers(b, 0, E, *s, *kv);
      r.layer_evals += E;
      r.layer_passes += E;
      if (j < dd) {
        cur = argmax_row(b, *s, 0);
        drafts.push_back(cur);
      }
      states.push_back(std::move(s));
      if (j < dd && cur == eos) break;  // nothing is drafted past EOS
    }
    // Verify: one pass of layers [E, L) over all saved states.
    std::vector<const Hidden*> parts;
    for (const auto& s : states) parts.push_back(s.get());
    auto v = b.concat(parts);
    run_layers(b, E, L, *v, *kv);
    const int m = static_cast<int>(states.size());  // rows: x, d1 .. d_{m-1}
    r.layer_evals += static_cast<long>(m) * (L - E);
    r.layer_passes += L - E;
    std::vector<int32_t> verified(m);
    for (int i = 0; i < m; ++i) verified[i] = argmax_row(b, *v, i);
    int k = 0;
    // drafts[i] is verified by verified[i] (the full model's token after row i); drafts.size() <= m.
    while (k < static_cast<int>(drafts.size()) && drafts[k] == verified[k]) ++k;
    r.drafted += static_cast<long>(drafts.size());
    r.accepted += k;
    r.verify_steps += 1;
    // Emit accepted drafts, then the verifier's token after them.
    bool stop = false;
    for (int i = 0; i < k && !stop; ++i) {
      r.tokens.push_back(drafts[i]);
      stop = drafts[i] == eos || static_cast<int>(r.tokens.size()) >= max_new;
    }
    if (stop) break;  // k == m only when an accepted draft was EOS
    x = verified[k];
    r.tokens.push_back(x);
    pos += 1 + k;  // x and the k accepted drafts are now in every layer's cache
    kv->truncate_all(pos, L);
  }
  return r;
}

}  // namespace eeb
