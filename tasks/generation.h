// Generation tasks for speculative decoding: greedy decoding of a summary/continuation, scored with
// ROUGE-2 / ROUGE-L against the reference and exact match against the full-depth output.
//   prompts:       <data>/prompts/<split>.jsonl, {"prompt": ..., "reference": ...}
//   cnn_dailymail: <data>/cnn_dailymail/<split>.jsonl, {"article": ..., "highlights": ...}
//   xsum:          <data>/xsum/<split>.jsonl, {"document": ..., "summary": ...}
// Summarisation prompts use the template "Article: {article}\nSummary:".
#pragma once
#include <memory>

#include "tasks/task.h"

namespace eeb {

std::unique_ptr<Task> make_generation_task(const std::string& name);  // nullptr if not one

}  // namespace eeb
