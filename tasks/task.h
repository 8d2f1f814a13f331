// A task = documents + a prompt template + a metric, registered by name (as in lm-evaluation-harness).
//
// Multiple-choice tasks are scored like lm-eval's loglikelihood requests: each choice's continuation
// log-likelihood after the context; acc = argmax of the sum, acc_norm = argmax of the sum divided by
// the choice's length in characters (the choice without target_delimiter, as lm-eval does).
// Continuation tokens are encode(context + continuation) minus encode(context) (after moving the
// context's trailing spaces onto the continuation, as lm-eval does).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace eeb {

class Tokenizer;

struct Doc {
  std::string id;        // stable within the task, e.g. "dev:17" or "anatomy:test:3"
  std::string group;     // the group member (MMLU subject); empty when the task has none
  std::string context;   // full prompt (few-shot examples included)
  std::vector<std::string> choices;  // continuations = target_delimiter + choice, e.g. " negative"
  std::string target_delimiter = " ";  // lm-eval's; acc_norm counts the characters after it
  int gold = -1;
  std::string reference; // generation tasks: reference text
  std::vector<std::string> fewshot_ids;  // ids of the few-shot examples in the prompt, in prompt order
  // Partial scoring (lm-eval's multiple-input mode, WSC273): choice c is scored as choices[c] after
  // context + choice_contexts[c]; only choices[c]'s tokens count. Empty for ordinary tasks.
  std::vector<std::string> choice_contexts;
};

struct TaskOptions {
  std::string data_dir;  // laid out like shared/data/datasets: <data_dir>/sst2/dev.tsv, <data_dir>/mmlu/test/...
  std::string split;     // empty: the task's default
  int shots = -1;        // -1: the task's default
  int limit = 0;         // 0: all documents (group tasks such as MMLU: per member)
  std::vector<std::string> subjects;  // group members to run (MMLU subjects); empty = all found
};

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  virtual std::string version() const = 0;
  virtual std::string kind() const { return "multiple_choice"; }  // or "generation"
  // The exact template text(s); its hash is stored with every result.
  virtual std::string template_text() const = 0;
  virtual std::string default_split() const = 0;
  virtual int default_shots() const { return 0; }
  // The accuracy metrics reported (lm-eval's metric_list: "acc", "acc_norm"), for multiple choice.
  virtual std::vector<std::string> metrics() const { return {"acc", "acc_norm"}; }
  // Reads the task files; throws Error naming the file and line for malformed input.
  virtual std::vector<Doc> load(const TaskOptions& opt) const = 0;
};

std::string template_hash(const Task& t);  // hex digest of template_text()

struct TaskInfo { std::string name, description; };
std::vector<TaskInfo> list_tasks();
std::unique_ptr<Task> make_task(const std::string& name);  // throws Error for unknown names

// A tokenized multiple-choice request.
struct Request {
  int index = 0;  // position in the task's document list
  const Doc* doc = nullptr;
  std::vector<int32_t> context;                     // BOS first when add_bos (and not truncated away)
  std::vector<std::vector<int32_t>> continuations;  // one per choice, each non-empty
  // For --log-samples: the full context text before tokenization, the few-shot document ids, and
  // how many context tokens were dropped from the left to fit the model (0: none).
  std::string context_text;
  std::vector<std::string> fewshot_ids;
  int truncated_tokens = 0;
  // Partial scoring: the first unscored[c] tokens of continuation c are the rest of choice c's own
  // context (conditioned on, not scored). Empty = all scored.
  std::vector<int> unscored;
};
// max_length: the model's positions (ModelConfig::max_seq_len = max_position_embeddings); 0 = no
// limit. Longer inputs are left-truncated as lm-eval's HFLM does (see registry.cpp).
Request make_request(const Doc& doc, int index, const Tokenizer& tok, bool add_bos = true,
                     int max_length = 0);

}  // namespace eeb
