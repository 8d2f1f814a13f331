// eebench logits: the logit lens at every layer for one prompt (final norm + LM head applied to each
// layer's hidden state at the last position).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include <nlohmann/json.hpp>

#include "harness/cli.h"
#include "core/error.h"
#include "harness/loaded_model.h"

namespace eeb {

int cmd_logits(const LogitsArgs& a) {
  BackendOptions opt;
  opt.threads = a.threads;
  opt.dtype = a.dtype;
  auto lm = load_for_backend(a.model, a.tokenizer, a.backend, opt);
  auto& b = *lm.backend;
  const auto& cfg = b.config();
  std::vector<int32_t> toks;
  for (int t : lm.tokenizer->encode_for_model(a.prompt, !a.no_bos)) toks.push_back(t);
  if (toks.empty()) throw Error("empty prompt and --no-bos: nothing to run");
  if (static_cast<int>(toks.size()) > cfg.max_seq_len && cfg.max_seq_len > 0)
    throw Error("prompt has " + std::to_string(toks.size()) + " tokens; the model allows " +
                std::to_string(cfg.max_seq_len));

  auto kv = b.new_cache(static_cast<int>(toks.size()));
  auto h = b.embed(toks, 0);
  const int last = static_cast<int>(toks.size()) - 1;
  std::vector<float> logits(cfg.vocab_size);
  nlohmann::json out = {{"model", a.model}, {"prompt", a.prompt}, {"tokens", toks},
                        {"layers", nlohmann::json::array()}};
  if (!a.json) std::printf("%-6s %s\n", "layer", "top tokens (probability)");
  for (int l = 0; l < cfg.n_layers; ++l) {
    b.run_layer(l, *h, *kv);
    b.logits(*h, last, 1, logits.data());
    // Softmax in float64.
    double mx = *std::max_element(logits.begin(), logits.end()), z = 0;
    for (float x : logits) z += std::exp(static_cast<double>(x) - mx);
    std::vector<int> idx(cfg.vocab_size);
    std::iota(idx.begin(), idx.end(), 0);
    const int k = std::min(a.top, cfg.vocab_size);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                      [&](int x, int y) { return logits[x] > logits[y] || (logits[x] == logits[y] && x < y); });
    nlohmann::json top = nlohmann::json::array();
    std::string line;
    for (int i = 0; i < k; ++i) {
      double p = std::exp(static_cast<double>(logits[idx[i]]) - mx) / z;
      std::string piece = lm.tokenizer->piece(idx[i]);
      top.push_back({{"id", idx[i]}, {"token", piece}, {"prob", p}, {"logit", logits[idx[i]]}});
      char buf[160];
      std::snprintf(buf, sizeof buf, "%s(%.4f)", piece.c_str(), p);
      line += (i ? "  " : "") + std::string(buf);
    }
    out["layers"].push_back({{"layer", l + 1}, {"top", top}});
    if (!a.json) std::printf("%-6d %s\n", l + 1, line.c_str());
  }
  if (a.json) std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  return 0;
}

}  // namespace eeb
