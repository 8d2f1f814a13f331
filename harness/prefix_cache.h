// The prefix KV cache of a trial (issue 14): documents whose contexts begin with the same tokens (the
// MMLU subject's description and few-shot examples) start from one computed copy of that prefix.
//
// The prefix is found by token ids, never by text: per run of consecutive requests with the same
// Doc::group (all of a task's requests when it has no groups), the longest common token prefix of
// their contexts (a truncated context sharing nothing breaks the run), less whatever would leave a document no token of its own (the scoring position is
// always computed per document). The cache holds PrefixStates keyed by (side, layer plan, tokens),
// least recently used evicted first, at most `budget` bytes of keys/values in all. One cache serves
// one trial on one backend, so the backend and its weights are the same for every entry.
#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "strategies/scoring.h"
#include "tasks/task.h"

namespace eeb {

// Requests [begin, end) of a list share their first `length` context tokens (0: no usable prefix).
struct PrefixGroup {
  size_t begin = 0, end = 0;
  int length = 0;
};

size_t common_token_prefix(std::span<const int32_t> a, std::span<const int32_t> b);

// Consecutive runs of requests with the same Doc::group whose neighbours share at least min_tokens
// tokens (a left-truncated context shares none and runs alone), each with its usable shared prefix:
// a run of one request, or a prefix shorter than min_tokens, gets length 0 (computing it once would
// save nothing). Runs of one group split by such a document find the same prefix in the cache.
// The default: a prefix of a few tokens (BOS and a common first word) saves less than the extra
// prefix pass and fork cost.
constexpr int kMinPrefixTokens = 16;
std::vector<PrefixGroup> find_prefix_groups(const std::vector<Request>& reqs,
                                            int min_tokens = kMinPrefixTokens);

// Bytes a prefix's keys and values take (every layer it holds, at the backend's bytes per position).
double prefix_bytes(const PrefixState& p, const Backend& b);

class PrefixCache {
 public:
  explicit PrefixCache(double budget_bytes) : budget_(budget_bytes) {}
  // The entry of (side, plan, tokens), now the most recently used; null when absent.
  std::shared_ptr<const PrefixState> find(int side, const std::vector<int>& plan,
                                          std::span<const int32_t> tokens);
  // Adds an entry, evicting least recently used ones until it fits. An entry larger than the whole
  // budget is not kept (its user still holds it; the next document computes it again). Entries in
  // use elsewhere stay alive through their shared_ptr after eviction.
  void insert(int side, std::shared_ptr<const PrefixState> p, double bytes);
  double bytes() const { return bytes_; }
  size_t size() const { return lru_.size(); }
  long evictions() const { return evictions_; }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const PrefixState> state;
    double bytes;
  };
  static std::string key(int side, const std::vector<int>& plan, std::span<const int32_t> tokens);
  double budget_, bytes_ = 0;
  long evictions_ = 0;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

// The default budget: a quarter of what the backend says is free (host RAM or device memory), at
// least 64 MiB.
double default_prefix_cache_bytes(const Backend& b);

}  // namespace eeb
