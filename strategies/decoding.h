// Greedy decoding at full depth, and LayerSkip self-speculative greedy decoding (Elhoushi et al.):
// draft with the first E layers + the shared final norm and LM head, verify all drafted tokens in
// one pass through layers E..L-1 starting from the drafts' saved layer-E states (the first E
// layers' KV cache and states are reused, nothing is recomputed), accept the longest prefix that
// agrees with the verifier plus the verifier's next token, and roll the KV caches back past it.
// The output is token-identical to full-depth greedy decoding by construction.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "backends/backend.h"

namespace eeb {

struct DecodeResult {
  std::vector<int32_t> tokens;  // generated tokens (EOS included when produced)
  long drafted = 0;             // draft tokens proposed
  long accepted = 0;            // draft tokens accepted
  long verify_steps = 0;        // verification passes
  long layer_evals = 0;   // layer × token evaluations after the prompt (rejected drafts included)
  long layer_passes = 0;  // layer invocations after the prompt: a batched verify pass over m rows
                          // counts once per layer (one read of its weights)
};

DecodeResult greedy_decode(Backend& b, std::span<const int32_t> prompt, int max_new, int eos);

// exit_layer = E (1 .. L-1), draft = d tokens per step (>= 1).
DecodeResult self_speculative_decode(Backend& b, std::span<const int32_t> prompt, int max_new,
                                     int eos, int exit_layer, int draft);

}  // namespace eeb
