// The one few-shot prompt assembly every multiple-choice task uses (task_spec.cpp: sst2, mmlu, every spec),
// so the prompt shape lives in one place: lm-eval 0.4's ConfigurableTask.fewshot_context without a
// chat template or system instruction (lm_eval/api/task.py, samplers.py ContextSampler.get_context):
//   description + Σ (example_text + target_delimiter + example_target + fewshot_delimiter) + doc_text
// An example whose target is "" adds its text only, without either delimiter, as get_context does
// (`if doc_target != "":`). The description is used as given (lm-eval's maybe_delimit(None, d) is d).
#pragma once
#include <string>
#include <vector>

namespace eeb {

struct FewshotExample {
  std::string text;    // the example's doc_to_text
  std::string target;  // its answer as written in the prompt (a choice, a letter, ...)
};

std::string fewshot_context(const std::string& description, const std::vector<FewshotExample>& examples,
                            const std::string& doc_text, const std::string& target_delimiter,
                            const std::string& fewshot_delimiter);

}  // namespace eeb
