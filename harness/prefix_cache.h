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

#include "backends/counting.h"
#include "core/records.h"
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

// The prefix cache as one trial uses it, one document at a time or in batches (harness/runner.cpp,
// runner_batch.cpp): the requests in the order they are scored, their prefix groups, the cache, and
// what each side's prefixes cost. Side 0 is the strategy, side 1 the full-depth baseline beside it;
// each side's prefixes run through its own plan.
class TrialPrefixes {
 public:
  // Prefixes are computed on `counted` (the trial's counting backend), timed by its inner backend.
  TrialPrefixes(CountingBackend& counted, std::vector<Request> reqs,
                std::vector<std::vector<int>> side_plans, double budget_bytes, bool timed);
  const std::vector<Request>& requests() const { return reqs_; }

  // What the side's document at position t starts from: its group's prefix (computed on a miss,
  // timed and counted on its own, outside the document's time), null when it has none. Positions
  // are asked for in increasing order per side.
  std::shared_ptr<const PrefixState> get(int side, size_t t);

  // A document's share of its side's prefix cost: a prefix computed for the document at position t
  // is charged 1/(group end - t) to it and to each later document of its group, so the shares of
  // all documents sum to every computation done (evictions and recomputations included). This is
  // the share of the document last passed to get(side, ·), as of that call.
  struct Share {
    double seconds = 0, flops = 0, tokens = 0;
  };
  Share share(int side) const { return share_[side].s; }

  // Writes what the document took from the cache and its shares into r.extra (prefix_tokens,
  // prefix_flops, prefix_computed_tokens, prefix_seconds, and the baseline's _full figures).
  static void record(SampleRecord& r, const PrefixState* used, const Share& s, const Share* baseline,
                     bool timed);

 private:
  CountingBackend& counted_;
  std::vector<Request> reqs_;
  std::vector<std::vector<int>> plans_;
  std::vector<PrefixGroup> groups_;
  std::vector<size_t> group_of_;  // position -> group
  PrefixCache cache_;
  bool timed_;
  struct GroupShare {
    Share s;
    size_t group = SIZE_MAX;
  };
  GroupShare share_[2];
};

}  // namespace eeb
