#include "tasks/fewshot_context.h"

namespace eeb {

std::string fewshot_context(const std::string& description, const std::vector<FewshotExample>& examples,
                            const std::string& doc_text, const std::string& target_delimiter,
                            const std::string& fewshot_delimiter) {
  std::string s = description;
  for (const auto& e : examples) {
    s += e.text;
    if (!e.target.empty()) s += target_delimiter + e.target + fewshot_delimiter;
  }
  return s + doc_text;
}

}  // namespace eeb
