// Task registry, template hashes and lm-eval-exact tokenization of multiple-choice requests.
#include <xxhash.h>

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "tokenizer/tokenizer.h"
#include "tasks/builtin.h"
#include "tasks/generation.h"
#include "tasks/task.h"
#include "tasks/task_spec.h"
#include "tasks/text.h"

namespace eeb {

namespace {

struct Entry {
  const char* name;
  const char* description;
  std::unique_ptr<Task> (*make)();
};

const std::vector<Entry>& entries() {
  static const std::vector<Entry> e = {
      // "spec:" = a declarative spec (tasks/specs/<name>.yaml, built in; docs/TASKS.md); "generation:" =
      // tasks/generation.cpp.
      {"sst2", "spec: GLUE SST-2 sentiment, lm-eval glue/sst2 prompt; splits dev (= validation, default), train, "
               "test_labeled",
       [] { return make_builtin_spec("sst2"); }},
      {"mmlu", "spec: MMLU, group of 57 subjects, lm-eval mmlu default template; split test (default), shots from dev",
       [] { return make_builtin_spec("mmlu"); }},
      {"prompts", "generation: <data>/prompts/<split>.jsonl {prompt, reference}; ROUGE, exact match vs full",
       [] { return make_generation_task("prompts"); }},
      {"cnn_dailymail", "generation: CNN/DailyMail {article, highlights}, 'Article: ...\\nSummary:'",
       [] { return make_generation_task("cnn_dailymail"); }},
      {"xsum", "generation: XSum {document, summary}, 'Article: ...\\nSummary:'",
       [] { return make_generation_task("xsum"); }},
      {"boolq", "spec: BoolQ, lm-eval super_glue/boolq prompt; split validation",
       [] { return make_builtin_spec("boolq"); }},
      {"piqa", "spec: PIQA, lm-eval piqa prompt; split validation; acc, acc_norm",
       [] { return make_builtin_spec("piqa"); }},
      {"commonsense_qa", "spec: CommonsenseQA, lm-eval commonsense_qa prompt (A-E); split validation",
       [] { return make_builtin_spec("commonsense_qa"); }},
      {"ag_news", "spec: AG News topic, AdaInfer-style prompt (no lm-eval YAML); split test",
       [] { return make_builtin_spec("ag_news"); }},
      {"wsc273", "spec: WSC273, lm-eval wsc273 partial scoring (choices are contexts); split test",
       [] { return make_builtin_spec("wsc273"); }},
      {"sst2_test", "spec: SST-2 labelled GLUE test sentences, lm-eval sst2 prompt; shots from train",
       [] { return make_builtin_spec("sst2_test"); }},
  };
  return e;
}

}  // namespace

void check_task_options(const TaskOptions& opt, const std::string& task) {
  if (opt.data_dir.empty()) throw Error(task + ": no data directory given");
  if (opt.shots < -1) throw Error(task + ": shots must be >= 0 (got " + std::to_string(opt.shots) + ")");
  if (opt.limit < 0) throw Error(task + ": limit must be >= 0 (got " + std::to_string(opt.limit) + ")");
}

std::vector<TaskInfo> list_tasks() {
  std::vector<TaskInfo> out;
  for (const auto& e : entries()) out.push_back({e.name, e.description});
  return out;
}

std::unique_ptr<Task> make_task(const std::string& name) {
  if (is_task_spec_path(name)) return load_task_spec_file(name);  // eebench run --task my_task.yaml
  std::vector<std::string> names;
  for (const auto& e : entries()) {
    if (name == e.name) return e.make();
    names.push_back(e.name);
  }
  throw Error("unknown task '" + name + "' (known: " + join(names, ", ") + "; or a spec file NAME.yaml)");
}

std::string template_hash(const Task& t) {
  const std::string text = t.template_text();
  const XXH64_hash_t h = XXH3_64bits(text.data(), text.size());
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// lm-eval's LM._encode_pair for causal models (lm_eval/api/model.py):
//   n_spaces = len(context) - len(context.rstrip())
//   if n_spaces > 0: continuation = context[-n_spaces:] + continuation; context = context[:-n_spaces]
//   whole_enc = tok_encode(context + continuation); context_enc = tok_encode(context)
//   continuation_enc = whole_enc[len(context_enc):]
// and, for inputs longer than the model, HFLM._loglikelihood_tokens (lm_eval/models/huggingface.py):
//   inp = (context_enc + continuation_enc)[-(self.max_length + 1):][:-1]
// The last token is only predicted, so the model sees at most max_length positions: the continuation
// whole (lm-eval asserts len(continuation_enc) <= max_length) and the context minus its first
// len(context_enc) + len(continuation_enc) - (max_length + 1) tokens (BOS included: it is part of
// context_enc). eebench scores every choice after one shared context, so the context is cut for the
// longest continuation; that is lm-eval's arithmetic exactly when the choices have equal token counts
// (SST-2, MMLU), and otherwise a shorter choice sees up to (longest - its length) fewer context
// tokens than lm-eval would give it, but the same context as the other choices.
Request make_request(const Doc& doc, int index, const Tokenizer& tok, bool add_bos, int max_length) {
  // Partial scoring (WSC273): each choice carries its own context; not truncated (short texts).
  if (!doc.choice_contexts.empty()) return make_partial_request(doc, index, tok, add_bos);
  const std::string where = "document " + doc.id;
  if (doc.choices.empty()) throw Error(where + ": no choices");
  if (max_length < 0) throw Error(where + ": max_length " + std::to_string(max_length) + " < 0");
  const size_t n_ws = py_rstrip_bytes(doc.context);
  const std::string context = doc.context.substr(0, doc.context.size() - n_ws);
  const std::string moved = doc.context.substr(context.size());

  Request r;
  r.index = index;
  r.doc = &doc;
  const std::vector<int> ctx = tok.encode(context);
  // add_bos allows BOS; whether it is prepended is the tokenizer's own policy (decided once at load).
  if (add_bos && tok.add_bos()) {
    const int bos = tok.bos();
    if (bos < 0) throw Error(where + ": the tokenizer has no BOS token (run without BOS)");
    r.context.push_back(bos);
  }
  r.context.insert(r.context.end(), ctx.begin(), ctx.end());
  if (r.context.empty())
    throw Error(where + ": empty context and no BOS token: nothing to condition the choices on");

  for (size_t c = 0; c < doc.choices.size(); ++c) {
    const std::vector<int> whole = tok.encode(context + moved + doc.choices[c]);
    if (whole.size() <= ctx.size())
      throw Error(where + ": choice " + std::to_string(c) + " ('" + doc.choices[c] +
                  "') has no tokens after the context");
    r.continuations.emplace_back(whole.begin() + static_cast<std::ptrdiff_t>(ctx.size()), whole.end());
  }
  r.context_text = doc.context;
  r.fewshot_ids = doc.fewshot_ids;
  if (max_length > 0) {
    const size_t limit = static_cast<size_t>(max_length);
    size_t longest = 0;
    for (size_t c = 0; c < r.continuations.size(); ++c) {
      longest = std::max(longest, r.continuations[c].size());
      if (r.continuations[c].size() > limit)
        throw Error(where + ": choice " + std::to_string(c) + " has " +
                    std::to_string(r.continuations[c].size()) + " tokens, more than the model's " +
                    std::to_string(max_length) + " positions");
    }
    const size_t total = r.context.size() + longest;
    if (total > limit + 1) {  // keeps limit + 1 - longest >= 1 context tokens
      const size_t drop = total - (limit + 1);
      r.context.erase(r.context.begin(), r.context.begin() + static_cast<std::ptrdiff_t>(drop));
      r.truncated_tokens = static_cast<int>(drop);
    }
  }
  return r;
}

}  // namespace eeb
