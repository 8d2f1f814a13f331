#include "strategies/calibration.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <numeric>

#include <xxhash.h>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace eeb {

static double cosine(const float* a, const float* b, int n) {
  double ab = 0, aa = 0, bb = 0;
  for (int i = 0; i < n; ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  if (aa == 0 || bb == 0) return 1.0;
  return std::clamp(ab / std::sqrt(aa * bb), -1.0, 1.0);
}

LayerSimilarity measure_layer_similarity(Backend& b,
                                         const std::vector<std::vector<int32_t>>& seqs) {
  const int L = b.config().n_layers, D = b.config().dim;
  LayerSimilarity s;
  s.block_influence.assign(L, 0.0);
  s.angular.assign(L + 1, {});
  for (int n = 0; n <= L; ++n) s.angular[n].assign(L - n + 1, 0.0);
  for (const auto& seq : seqs) {
    if (seq.empty()) continue;
    const int T = static_cast<int>(seq.size());
    auto kv = b.new_cache(T);
    auto h = b.embed(seq, 0);
    // x[l] = input of layer l (x[0] = embeddings, x[L] = last layer's output), all T rows.
    std::vector<std::vector<float>> x(L + 1, std::vector<float>(size_t(T) * D));
    b.read_hidden(*h, 0, T, x[0].data());
    for (int l = 0; l < L; ++l) {
      b.run_layer(l, *h, *kv);
      b.read_hidden(*h, 0, T, x[l + 1].data());
      for (int t = 0; t < T; ++t)
        s.block_influence[l] += 1.0 - cosine(&x[l][size_t(t) * D], &x[l + 1][size_t(t) * D], D);
    }
    const size_t last = size_t(T - 1) * D;
    for (int n = 0; n <= L; ++n)
      for (int l = 0; l + n <= L; ++l)
        s.angular[n][l] += std::acos(cosine(&x[l][last], &x[l + n][last], D)) / M_PI;
    s.sequences += 1;
    s.tokens += T;
  }
  if (s.tokens == 0) throw Error("layer similarity: the calibration set is empty");
  for (auto& v : s.block_influence) v /= double(s.tokens);
  for (auto& row : s.angular)
    for (auto& v : row) v /= double(s.sequences);
  return s;
}

std::vector<std::vector<int32_t>> calibration_sequences(RunContext& ctx, const Task& task,
                                                        const TaskOptions& opt,
                                                        const nlohmann::json& p) {
  const auto& tok = ctx.tokenizer();
  const int max_len = std::max(2, ctx.backend.config().max_seq_len);
  const int size = p.value("calib_size", 128);
  if (size < 1) throw Error("calib_size must be >= 1");
  std::vector<std::string> texts;
  if (p.contains("calib_file")) {
    std::string path = p["calib_file"].get<std::string>();
    std::ifstream f(path);
    if (!f) throw Error(path, "cannot open calibration file");
    std::string line;
    while (std::getline(f, line) && static_cast<int>(texts.size()) < size)
      if (!line.empty()) texts.push_back(line);
    if (texts.empty()) throw Error(path, "calibration file has no non-empty line");
  } else {
    TaskOptions o = opt;
    o.split = p.value("calib_split", std::string("train"));
    o.shots = 0;
    o.limit = size;
    for (const auto& d : task.load(o)) {
      std::string text = d.context;
      if (d.gold >= 0 && d.gold < static_cast<int>(d.choices.size())) text += d.choices[d.gold];
      else if (!d.reference.empty()) text += " " + d.reference;
      texts.push_back(text);
      if (static_cast<int>(texts.size()) >= size) break;
    }
  }
  // The run's --limit never applies here (o.limit above is calib_size); a split or file shorter
  // than calib_size is said, not hidden.
  if (static_cast<int>(texts.size()) < size) {
    const std::string source = p.contains("calib_file")
                                   ? p["calib_file"].get<std::string>()
                                   : task.name() + " split " + p.value("calib_split", std::string("train"));
    std::fprintf(stderr, "eebench: warning: calibration uses %zu documents, calib_size asks for %d (%s has no more)\n",
                 texts.size(), size, source.c_str());
  }
  std::vector<std::vector<int32_t>> seqs;
  for (const auto& t : texts) {
    std::vector<int32_t> ids;
    for (int id : tok.encode_for_model(t)) ids.push_back(id);  // BOS as the tokenizer's policy says
    if (static_cast<int>(ids.size()) > max_len) ids.resize(max_len);
    seqs.push_back(std::move(ids));
  }
  return seqs;
}

namespace {
// Hash of the token ids themselves: they capture the task, split, size, subjects, calibration file,
// tokenizer, BOS policy and truncation, whatever produced them.
std::string sequences_hash(const std::vector<std::vector<int32_t>>& seqs) {
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  for (const auto& s : seqs) {
    const uint64_t n = s.size();
    XXH3_64bits_update(st, &n, sizeof n);
    if (n) XXH3_64bits_update(st, s.data(), n * sizeof(int32_t));
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(XXH3_64bits_digest(st)));
  XXH3_freeState(st);
  return buf;
}
}  // namespace

std::string calibration_cache_key(const RunContext& ctx,
                                  const std::vector<std::vector<int32_t>>& seqs) {
  const auto& rs = ctx.run_spec;
  if (!rs.is_object() || !rs.contains(kWeightsChecksumKey) || !rs[kWeightsChecksumKey].is_string() ||
      rs[kWeightsChecksumKey].get<std::string>().empty())
    return "";
  const auto& c = ctx.backend.config();
  nlohmann::json key = {{"weights", rs[kWeightsChecksumKey]}, {"backend", ctx.backend.name()},
                        {"dtype", ctx.backend.dtype()}, {"n_layers", c.n_layers}, {"dim", c.dim},
                        {"sequences", sequences_hash(seqs)}, {"n_sequences", seqs.size()}};
  return key.dump();
}

LayerSimilarity cached_layer_similarity(RunContext& ctx, const Task& task, const TaskOptions& opt,
                                        const nlohmann::json& p) {
  static std::mutex mu;
  static std::map<std::string, LayerSimilarity> cache;
  auto seqs = calibration_sequences(ctx, task, opt, p);
  const std::string key = calibration_cache_key(ctx, seqs);
  if (key.empty()) return measure_layer_similarity(ctx.backend, seqs);
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  LayerSimilarity s = measure_layer_similarity(ctx.backend, seqs);
  std::lock_guard<std::mutex> lock(mu);
  return cache.emplace(key, std::move(s)).first->second;
}

std::vector<int> lowest_bi_layers(const std::vector<double>& bi, int n) {
  std::vector<int> idx(bi.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return bi[a] < bi[b]; });
  idx.resize(std::min<size_t>(idx.size(), std::max(0, n)));
  std::sort(idx.begin(), idx.end());
  return idx;
}

int best_angular_block(const LayerSimilarity& s, int n) {
  const auto& row = s.angular.at(n);
  const int L = static_cast<int>(s.block_influence.size());
  int best = 0;
  for (int l = 1; l + n <= L; ++l)
    if (row[l] < row[best]) best = l;
  return best;
}

}  // namespace eeb
