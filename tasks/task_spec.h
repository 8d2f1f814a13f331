// Declarative multiple-choice tasks in lm-evaluation-harness's YAML shape (docs/TASKS.md):
//   task, dataset {split: file (.jsonl, .csv, .tsv)}, test_split, validation_split, training_split,
//   fewshot_split, output_type (multiple_choice), doc_to_text, doc_to_choice, doc_to_target,
//   description, target_delimiter (" "), fewshot_delimiter ("\n\n"), fewshot_config.sampler
//   (default | first_n), num_fewshot, metric_list (acc, acc_norm), metadata.version; a group
//   (group: {dataset_names: [...]}: one member task per name, {{dataset_name}} in the dataset paths
//   and templates, as lm-eval's per-subject MMLU YAMLs); and eebench's dataset_columns, doc_fields,
//   row_index_field for what lm-eval reads from Hugging Face datasets (docs/TASKS.md).
// Prompts are built as lm-eval 0.4's ConfigurableTask.fewshot_context + construct_requests build
// them; a doc_to_text that yields an index (WSC273) is lm-eval's multiple-input mode: the choices
// are contexts and the target is the shared continuation, scored on its own (partial scoring).
// Every problem is one line naming the spec file:line (or the data file:line) and the problem.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tasks/task.h"

namespace eeb {

// Parses a spec; `origin` names it in errors (a path, or "tasks/specs/NAME.yaml" for built-ins).
std::unique_ptr<Task> parse_task_spec(const std::string& yaml_text, const std::string& origin);
// Reads and parses a spec file.
std::unique_ptr<Task> load_task_spec_file(const std::string& path);
// True for names that are spec paths rather than registered names (end in .yaml or .yml).
bool is_task_spec_path(const std::string& name);

struct BuiltinSpec {
  std::string name, file, text;  // name = the spec's task, file = tasks/specs/<name>.yaml
};
// The specs shipped in tasks/specs/, built into the binary.
const std::vector<BuiltinSpec>& builtin_task_specs();

// The YAML text of a spec task (empty for tasks written in C++).
std::string task_spec_text(const Task& t);
// A group spec's members (group: dataset_names), in the spec's order; empty for other tasks.
std::vector<std::string> task_group_members(const Task& t);

}  // namespace eeb
