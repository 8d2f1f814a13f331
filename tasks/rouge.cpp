#include "tasks/rouge.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace eeb {

std::vector<std::string> rouge_tokens(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (unsigned char ch : text) {
    char c = static_cast<char>(std::tolower(ch));
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      cur += c;
    } else if (!cur.empty()) {
      out.push_back(cur);
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

static double f1(double overlap, double n_cand, double n_ref) {
  if (n_cand == 0 || n_ref == 0 || overlap == 0) return 0;
  double p = overlap / n_cand, r = overlap / n_ref;
  return 2 * p * r / (p + r);
}

double rouge_n_f1(const std::string& candidate, const std::string& reference, int n) {
  auto c = rouge_tokens(candidate), r = rouge_tokens(reference);
  auto grams = [n](const std::vector<std::string>& t) {
    std::map<std::vector<std::string>, int> g;
    for (size_t i = 0; i + n <= t.size(); ++i) g[std::vector<std::string>(t.begin() + i, t.begin() + i + n)]++;
    return g;
  };
  auto gc = grams(c), gr = grams(r);
  double overlap = 0, nc = 0, nr = 0;
  for (const auto& [k, v] : gc) {
    nc += v;
    auto it = gr.find(k);
    if (it != gr.end()) overlap += std::min(v, it->second);
  }
  for (const auto& [k, v] : gr) nr += v;
  return f1(overlap, nc, nr);
}

double rouge_l_f1(const std::string& candidate, const std::string& reference) {
  auto c = rouge_tokens(candidate), r = rouge_tokens(reference);
  std::vector<std::vector<int>> dp(c.size() + 1, std::vector<int>(r.size() + 1, 0));
  for (size_t i = 1; i <= c.size(); ++i)
    for (size_t j = 1; j <= r.size(); ++j)
      dp[i][j] = c[i - 1] == r[j - 1] ? dp[i - 1][j - 1] + 1 : std::max(dp[i - 1][j], dp[i][j - 1]);
  return f1(dp[c.size()][r.size()], double(c.size()), double(r.size()));
}

}  // namespace eeb
