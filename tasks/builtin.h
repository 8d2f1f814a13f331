// The built-in tasks (see docs/TASKS.md for the prompts and where they were checked against
// lm-evaluation-harness).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tasks/task.h"

namespace eeb {

// A spec shipped in tasks/specs/ (built into the binary), by its task name.
std::unique_ptr<Task> make_builtin_spec(const std::string& name);
// make_request for partial scoring (Doc::choice_contexts), tasks/partial_request.cpp.
Request make_partial_request(const Doc& doc, int index, const Tokenizer& tok, bool add_bos);

// Throws Error unless the generic options make sense (data_dir given, shots >= -1, limit >= 0).
void check_task_options(const TaskOptions& opt, const std::string& task);

}  // namespace eeb
