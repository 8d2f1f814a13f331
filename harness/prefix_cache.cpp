#include "harness/prefix_cache.h"

#include <algorithm>
#include <cstring>

namespace eeb {

size_t common_token_prefix(std::span<const int32_t> a, std::span<const int32_t> b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

std::vector<PrefixGroup> find_prefix_groups(const std::vector<Request>& reqs, int min_tokens) {
  std::vector<PrefixGroup> out;
  auto group_of = [&](size_t i) -> const std::string& { return reqs[i].doc->group; };
  // Within a group, a run breaks where two neighbours share fewer than min_tokens tokens: a document
  // whose context was left-truncated (longer than the model's positions) shares nothing and must not
  // take the prefix away from the others. The LCP of a run is the minimum of its neighbours' LCPs.
  for (size_t b = 0; b < reqs.size();) {
    size_t e = b + 1;
    size_t lcp = reqs[b].context.size(), shortest = lcp;
    while (e < reqs.size() && group_of(e) == group_of(b)) {
      const size_t l = common_token_prefix(reqs[e - 1].context, reqs[e].context);
      if (l < static_cast<size_t>(std::max(min_tokens, 1))) break;
      lcp = std::min(lcp, l);
      shortest = std::min(shortest, reqs[e].context.size());
      ++e;
    }
    PrefixGroup g{b, e, 0};
    if (e - b >= 2) {
      // Every document keeps at least its last context token: its scoring position.
      const long usable = std::min<long>(static_cast<long>(lcp), static_cast<long>(shortest) - 1);
      if (usable >= min_tokens) g.length = static_cast<int>(usable);
    }
    out.push_back(g);
    b = e;
  }
  return out;
}

double prefix_bytes(const PrefixState& p, const Backend& b) {
  double positions = 0;
  for (int l = 0; l < p.kv->n_layers(); ++l) positions += p.kv->length(l);
  return positions * b.kv_bytes_per_position();
}

std::string PrefixCache::key(int side, const std::vector<int>& plan, std::span<const int32_t> tokens) {
  // Exact bytes, not a hash: two keys are equal only when side, plan and tokens all are.
  std::string k(sizeof(int) * (2 + plan.size()) + sizeof(int32_t) * tokens.size(), '\0');
  char* p = k.data();
  const int np = static_cast<int>(plan.size());
  std::memcpy(p, &side, sizeof(int)), p += sizeof(int);
  std::memcpy(p, &np, sizeof(int)), p += sizeof(int);
  if (np) std::memcpy(p, plan.data(), sizeof(int) * plan.size()), p += sizeof(int) * plan.size();
  if (!tokens.empty()) std::memcpy(p, tokens.data(), sizeof(int32_t) * tokens.size());
  return k;
}

std::shared_ptr<const PrefixState> PrefixCache::find(int side, const std::vector<int>& plan,
                                                     std::span<const int32_t> tokens) {
  auto it = index_.find(key(side, plan, tokens));
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->state;
}

void PrefixCache::insert(int side, std::shared_ptr<const PrefixState> p, double bytes) {
  std::string k = key(side, p->plan, p->tokens);
  if (auto it = index_.find(k); it != index_.end()) {
    bytes_ -= it->second->bytes;
    lru_.erase(it->second);
    index_.erase(it);
  }
  if (bytes > budget_) return;
  while (!lru_.empty() && bytes_ + bytes > budget_) {
    bytes_ -= lru_.back().bytes;
    index_.erase(lru_.back().key);
    lru_.pop_back();
    ++evictions_;
  }
  lru_.push_front(Entry{k, std::move(p), bytes});
  index_[std::move(k)] = lru_.begin();
  bytes_ += bytes;
}

double default_prefix_cache_bytes(const Backend& b) {
  return std::max(64.0 * (1 << 20), b.free_memory_bytes() / 4);
}

TrialPrefixes::TrialPrefixes(CountingBackend& counted, std::vector<Request> reqs,
                             std::vector<std::vector<int>> side_plans, double budget_bytes, bool timed)
    : counted_(counted), reqs_(std::move(reqs)), plans_(std::move(side_plans)),
      groups_(find_prefix_groups(reqs_)), group_of_(reqs_.size()), cache_(budget_bytes), timed_(timed) {
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t t = groups_[g].begin; t < groups_[g].end; ++t) group_of_[t] = g;
}

std::shared_ptr<const PrefixState> TrialPrefixes::get(int side, size_t t) {
  const PrefixGroup& g = groups_[group_of_[t]];
  GroupShare& sh = share_[side];
  if (sh.group != group_of_[t]) sh = GroupShare{Share{}, group_of_[t]};
  if (g.length == 0) return nullptr;
  const auto tokens = std::span<const int32_t>(reqs_[t].context).first(g.length);
  if (auto hit = cache_.find(side, plans_[side], tokens)) return hit;
  const WorkCount c0 = counted_.count();
  auto timer = timed_ ? counted_.inner().new_timer() : nullptr;
  if (timer) timer->start();
  std::shared_ptr<const PrefixState> p = compute_prefix(counted_, tokens, plans_[side]);
  const double secs = timer ? timer->stop_seconds() : 0;
  const WorkCount w = counted_.count() - c0;
  const double users = static_cast<double>(g.end - t);
  sh.s.seconds += secs / users, sh.s.flops += w.flops / users, sh.s.tokens += g.length / users;
  cache_.insert(side, p, prefix_bytes(*p, counted_.inner()));
  return p;
}

void TrialPrefixes::record(SampleRecord& r, const PrefixState* used, const Share& s, const Share* baseline,
                           bool timed) {
  r.extra["prefix_tokens"] = used ? used->length() : 0;
  r.extra["prefix_flops"] = s.flops;
  r.extra["prefix_computed_tokens"] = s.tokens;
  if (timed) r.extra["prefix_seconds"] = s.seconds;
  if (baseline) {
    r.extra["prefix_flops_full"] = baseline->flops;
    if (timed) r.extra["prefix_seconds_full"] = baseline->seconds;
  }
}

}  // namespace eeb
