// ROUGE-2 and ROUGE-L F1 (Lin, 2004) with rouge_score's default tokenisation: lower-case, every run
// of characters other than [a-z0-9] is a separator, no stemming.
#pragma once
#include <string>
#include <vector>

namespace eeb {

std::vector<std::string> rouge_tokens(const std::string& text);
double rouge_n_f1(const std::string& candidate, const std::string& reference, int n);
double rouge_l_f1(const std::string& candidate, const std::string& reference);

}  // namespace eeb
