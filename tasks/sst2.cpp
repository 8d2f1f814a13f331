// GLUE SST-2 with lm-evaluation-harness's sst2 prompt (lm_eval/tasks/glue/sst2/default.yaml):
//   doc_to_text: "{{sentence}}\nQuestion: Is this sentence positive or negative?\nAnswer:"
//   doc_to_choice: ["negative", "positive"], doc_to_target: label, target_delimiter " ".
#include <filesystem>

#include "core/error.h"
#include "tasks/builtin.h"
#include "tasks/fewshot_context.h"
#include "tasks/fewshot_sampler.h"
#include "tasks/table.h"
#include "tasks/text.h"

namespace eeb {

namespace {

struct Sst2Item {
  std::string sentence;
  int label = 0;
  bool operator==(const Sst2Item&) const = default;
};

constexpr const char* kQuestion = "\nQuestion: Is this sentence positive or negative?\nAnswer:";
const std::vector<std::string> kAnswers = {"negative", "positive"};  // doc_to_choice

std::string doc_text(const Sst2Item& it) { return it.sentence + kQuestion; }

// The file of a split name: lm-eval's "validation" is GLUE's dev.tsv.
std::string split_file(const std::string& split) {
  if (split == "dev" || split == "validation") return "dev";
  if (split == "train" || split == "test_labeled") return split;
  throw Error("sst2: unknown split '" + split + "' (known: dev (= validation), train, test_labeled)");
}

std::vector<Sst2Item> read_split(const std::string& data_dir, const std::string& file) {
  const std::string path = (std::filesystem::path(data_dir) / "sst2" / (file + ".tsv")).string();
  const auto rows = read_tsv(path, 2);
  const auto& h = rows.front();
  if (h.fields[0] != "sentence" || h.fields[1] != "label")
    throw Error(path + ":" + std::to_string(h.line), "expected the header 'sentence<TAB>label'");
  std::vector<Sst2Item> items;
  items.reserve(rows.size() - 1);
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto& r = rows[i];
    const std::string& l = r.fields[1];
    if (l != "0" && l != "1")
      throw Error(path + ":" + std::to_string(r.line), "bad label '" + l + "' (expected 0 or 1)");
    items.push_back({r.fields[0], l == "1" ? 1 : 0});
  }
  if (items.empty()) throw Error(path, "no sentences");
  return items;
}

class Sst2Task final : public Task {
 public:
  std::string name() const override { return "sst2"; }
  std::string version() const override { return "1.0"; }
  std::string default_split() const override { return "dev"; }
  std::string template_text() const override {
    return std::string("task: sst2 (lm-eval glue/sst2/default.yaml)\n") +
           "doc_to_text: {{sentence}}" + kQuestion + "\n" +
           "choices: [\" negative\", \" positive\"] (doc_to_choice with target_delimiter \" \")\n" +
           "gold: label (0 negative, 1 positive)\n" +
           "fewshot: k documents of train drawn as lm-eval's default sampler does "
           "(random.Random(1234).sample(train, k + 1) per document, the document itself dropped, first k kept), "
           "each doc_to_text + \" \" + choice, followed by \"\\n\\n\"\n";
  }

  std::vector<Doc> load(const TaskOptions& opt) const override {
    check_task_options(opt, name());
    const std::string split = split_file(opt.split.empty() ? default_split() : opt.split);
    const int shots = opt.shots < 0 ? default_shots() : opt.shots;
    const auto items = read_split(opt.data_dir, split);
    std::vector<Sst2Item> pool;
    if (shots > 0) {
      pool = split == "train" ? items : read_split(opt.data_dir, "train");
      if (pool.size() < static_cast<size_t>(shots) + 1)  // lm-eval draws k + 1
        throw Error((std::filesystem::path(opt.data_dir) / "sst2" / "train.tsv").string(),
                    "only " + std::to_string(pool.size()) + " examples for " +
                        std::to_string(shots) + " shots");
    }
    const size_t n = opt.limit > 0 ? std::min(items.size(), static_cast<size_t>(opt.limit)) : items.size();
    std::vector<Doc> docs;
    docs.reserve(n);
    // One generator for the whole task, drawn from once per document in evaluation order (lm-eval's
    // ConfigurableTask.sampler). glue/sst2 sets neither fewshot_split nor test_split, so lm-eval's
    // "same split" test (None == None) is true and it draws k + 1 for every document.
    PyRandom rnd(1234);
    for (size_t i = 0; i < n; ++i) {
      const Sst2Item& it = items[i];
      Doc d;
      d.id = split + ":" + std::to_string(i);
      // lm-eval drops drawn examples equal to the document (HF rows compared with their idx, i.e.
      // the same row of the same split).
      const auto chosen = draw_fewshot(FewshotSampler::default_, rnd, pool.size(), shots, true,
                                       [&](size_t j) { return split == "train" && j == i; });
      if (chosen.size() < static_cast<size_t>(shots))
        throw Error("sst2: not enough few-shot examples for document " + d.id);
      std::vector<FewshotExample> examples;
      for (size_t j : chosen) {
        examples.push_back({doc_text(pool[j]), kAnswers[pool[j].label]});
        d.fewshot_ids.push_back("train:" + std::to_string(j));
      }
      d.context = fewshot_context("", examples, doc_text(it), kTargetDelimiter, kFewshotDelimiter);
      for (const auto& a : kAnswers) d.choices.push_back(kTargetDelimiter + a);
      d.gold = it.label;
      docs.push_back(std::move(d));
    }
    return docs;
  }
};

}  // namespace

std::unique_ptr<Task> make_sst2_task() { return std::make_unique<Sst2Task>(); }

}  // namespace eeb
