// lm-evaluation-harness's few-shot samplers, reproduced exactly so `--shots k` picks the examples
// lm-eval picks.
//
// lm-eval 0.4 (lm_eval/api/task.py, ConfigurableTask.__init__) builds ONE generator per task,
// `random.Random(1234)` (the evaluator re-seeds it with fewshot_random_seed, default 1234), and its
// default sampler (lm_eval/api/samplers.py ContextSampler) calls `self.rnd.sample(self.docs, n)` once
// per evaluated document, in evaluation order, with n = num_fewshot + 1 when config.fewshot_split ==
// config.test_split (both None, i.e. equal, in YAMLs that set neither, such as glue/sst2) and
// n = num_fewshot otherwise; it then drops the sampled docs equal to the evaluated doc and keeps the
// first num_fewshot. first_n (FirstNSampler) takes docs[:n] and goes through the same drop-and-cut.
//
// PyRandom is CPython's random.Random (Modules/_randommodule.c + Lib/random.py, 3.11) for the calls
// this needs: seeding from a non-negative int (init_by_array over the int's 32-bit words),
// getrandbits(k), _randbelow (getrandbits rejection) and sample() with its two algorithms.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace eeb {

class PyRandom {
 public:
  explicit PyRandom(uint64_t seed = 1234);
  uint32_t genrand_uint32() { return static_cast<uint32_t>(mt_()); }
  uint64_t getrandbits(int k);      // 0 <= k <= 64
  uint64_t randbelow(uint64_t n);   // n > 0: uniform in [0, n), as Random._randbelow_with_getrandbits
  // random.sample(range(n), k): the chosen indices, in the order Python returns them.
  std::vector<size_t> sample(size_t n, size_t k);

 private:
  std::mt19937 mt_;  // the same MT19937 core; its state is set word for word by init_by_array
};

enum class FewshotSampler { first_n, default_ };  // lm-eval's "first_n" and "default"

// Parses lm-eval's fewshot_config.sampler name ("default" or "first_n"); throws Error otherwise.
FewshotSampler parse_fewshot_sampler(const std::string& name, const std::string& where);

// Draws the few-shot examples for one evaluated document, as ContextSampler.get_context does:
// `draw_extra` is lm-eval's (fewshot_split == test_split); `is_eval_doc(j)` says whether pool doc j
// equals the evaluated doc (lm-eval compares the dicts by value). Returns pool indices, in prompt
// order. Throws Error when the pool is too small (Python raises ValueError there).
std::vector<size_t> draw_fewshot(FewshotSampler s, PyRandom& rnd, size_t pool_size, int num_fewshot,
                                 bool draw_extra, const std::function<bool(size_t)>& is_eval_doc);

}  // namespace eeb
