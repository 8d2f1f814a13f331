#include "tasks/fewshot_sampler.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <unordered_set>

#include "core/error.h"

namespace eeb {

namespace {

constexpr size_t kN = 624;

// CPython's init_genrand + init_by_array (Modules/_randommodule.c, from the MT reference code).
std::array<uint32_t, kN> init_by_array(const std::vector<uint32_t>& key) {
  std::array<uint32_t, kN> mt{};
  mt[0] = 19650218U;
  for (size_t i = 1; i < kN; ++i)
    mt[i] = 1812433253U * (mt[i - 1] ^ (mt[i - 1] >> 30)) + static_cast<uint32_t>(i);
  size_t i = 1, j = 0;
  for (size_t k = std::max(kN, key.size()); k; --k) {
    mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525U)) + key[j] + static_cast<uint32_t>(j);
    ++i, ++j;
    if (i >= kN) mt[0] = mt[kN - 1], i = 1;
    if (j >= key.size()) j = 0;
  }
  for (size_t k = kN - 1; k; --k) {
    mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941U)) - static_cast<uint32_t>(i);
    ++i;
    if (i >= kN) mt[0] = mt[kN - 1], i = 1;
  }
  mt[0] = 0x80000000U;  // MSB set: the state is never all zero
  return mt;
}

// A seed sequence that hands std::mt19937 a ready state: mersenne_twister_engine::seed(q) copies
// q.generate's 624 words into its state (w = 32: one word each, no fix-up since mt[0] != 0) and
// starts with a twist, as CPython does after seeding (index = N).
struct StateSeq {
  using result_type = uint32_t;
  const std::array<uint32_t, kN>& state;
  template <class It>
  void generate(It begin, It end) const {
    for (size_t i = 0; begin != end; ++begin, ++i) *begin = state[i];
  }
};

}  // namespace

PyRandom::PyRandom(uint64_t seed) {
  // random_seed(): the absolute value's 32-bit words, least significant first, at least one.
  std::vector<uint32_t> key = {static_cast<uint32_t>(seed)};
  if (seed >> 32) key.push_back(static_cast<uint32_t>(seed >> 32));
  const auto state = init_by_array(key);
  StateSeq q{state};
  mt_.seed(q);
}

uint64_t PyRandom::getrandbits(int k) {
  if (k < 0 || k > 64) throw Error("getrandbits: k must be in 0..64 (got " + std::to_string(k) + ")");
  if (k == 0) return 0;
  if (k <= 32) return genrand_uint32() >> (32 - k);
  // Words are filled least significant first; the last one keeps its top (k mod 32) bits.
  const uint64_t lo = genrand_uint32();
  const uint64_t hi = genrand_uint32() >> (64 - k);
  return lo | (hi << 32);
}

uint64_t PyRandom::randbelow(uint64_t n) {
  if (n == 0) throw Error("randbelow: n must be positive");
  const int k = std::bit_width(n);  // n.bit_length(), not (n-1): CPython's choice, kept
  uint64_t r = getrandbits(k);
  while (r >= n) r = getrandbits(k);
  return r;
}

std::vector<size_t> PyRandom::sample(size_t n, size_t k) {
  if (k > n) throw Error("sample: " + std::to_string(k) + " from a population of " + std::to_string(n));
  std::vector<size_t> result(k);
  // Lib/random.py (3.11): a list of n beats a set of k below this size.
  size_t setsize = 21;
  if (k > 5)
    setsize += static_cast<size_t>(std::pow(4.0, std::ceil(std::log(static_cast<double>(k * 3)) / std::log(4.0))));
  if (n <= setsize) {
    std::vector<size_t> pool(n);
    for (size_t i = 0; i < n; ++i) pool[i] = i;
    for (size_t i = 0; i < k; ++i) {
      const size_t j = randbelow(n - i);
      result[i] = pool[j];
      pool[j] = pool[n - i - 1];  // move the unselected item into the vacancy
    }
  } else {
    std::unordered_set<size_t> selected;
    for (size_t i = 0; i < k; ++i) {
      size_t j = randbelow(n);
      while (selected.count(j)) j = randbelow(n);
      selected.insert(j);
      result[i] = j;
    }
  }
  return result;
}

FewshotSampler parse_fewshot_sampler(const std::string& name, const std::string& where) {
  if (name == "default") return FewshotSampler::default_;
  if (name == "first_n") return FewshotSampler::first_n;
  throw Error(where, "unknown fewshot sampler '" + name + "' (known: default, first_n)");
}

std::vector<size_t> draw_fewshot(FewshotSampler s, PyRandom& rnd, size_t pool_size, int num_fewshot,
                                 bool draw_extra, const std::function<bool(size_t)>& is_eval_doc) {
  if (num_fewshot <= 0) return {};  // lm-eval does not call the sampler for 0 shots
  const size_t n = static_cast<size_t>(num_fewshot) + (draw_extra ? 1 : 0);
  if (n > pool_size)
    throw Error("few-shot: " + std::to_string(n) + " examples wanted (" + std::to_string(num_fewshot) +
                " shots" + (draw_extra ? " + 1 drawn in case the document itself is drawn" : "") +
                ") but the few-shot split has " + std::to_string(pool_size));
  std::vector<size_t> drawn;
  if (s == FewshotSampler::default_) {
    drawn = rnd.sample(pool_size, n);
  } else {
    for (size_t j = 0; j < n; ++j) drawn.push_back(j);
  }
  std::vector<size_t> out;
  for (size_t j : drawn) {
    if (out.size() == static_cast<size_t>(num_fewshot)) break;
    if (!is_eval_doc(j)) out.push_back(j);
  }
  return out;
}

}  // namespace eeb
