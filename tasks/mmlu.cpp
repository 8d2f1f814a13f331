// MMLU with lm-evaluation-harness's default template (lm_eval/tasks/mmlu/default/_default_template_yaml
// and the per-subject YAMLs written by lm_eval/tasks/mmlu/_generate_configs.py):
//   description: "The following are multiple choice questions (with answers) about {subject with _ → space}.\n\n"
//   doc_to_text: "{{question.strip()}}\nA. {{choices[0]}}\nB. {{choices[1]}}\nC. {{choices[2]}}\nD. {{choices[3]}}\nAnswer:"
//   doc_to_choice: ["A", "B", "C", "D"], doc_to_target: answer, fewshot_split: dev, sampler: first_n.
#include <algorithm>
#include <array>
#include <filesystem>

#include "core/error.h"
#include "tasks/builtin.h"
#include "tasks/fewshot_context.h"
#include "tasks/fewshot_sampler.h"
#include "tasks/table.h"
#include "tasks/text.h"

namespace eeb {

const std::vector<std::string>& mmlu_subjects() {
  static const std::vector<std::string> s = {
      "abstract_algebra", "anatomy", "astronomy", "business_ethics", "clinical_knowledge",
      "college_biology", "college_chemistry", "college_computer_science", "college_mathematics",
      "college_medicine", "college_physics", "computer_security", "conceptual_physics",
      "econometrics", "electrical_engineering", "elementary_mathematics", "formal_logic",
      "global_facts", "high_school_biology", "high_school_chemistry",
      "high_school_computer_science", "high_school_european_history", "high_school_geography",
      "high_school_government_and_politics", "high_school_macroeconomics",
      "high_school_mathematics", "high_school_microeconomics", "high_school_physics",
      "high_school_psychology", "high_school_statistics", "high_school_us_history",
      "high_school_world_history", "human_aging", "human_sexuality", "international_law",
      "jurisprudence", "logical_fallacies", "machine_learning", "management", "marketing",
      "medical_genetics", "miscellaneous", "moral_disputes", "moral_scenarios", "nutrition",
      "philosophy", "prehistory", "professional_accounting", "professional_law",
      "professional_medicine", "professional_psychology", "public_relations",
      "security_studies", "sociology", "us_foreign_policy", "virology", "world_religions"};
  return s;
}

namespace {

struct MmluItem {
  std::string question;
  std::array<std::string, 4> choices;
  int answer = 0;
  bool operator==(const MmluItem&) const = default;
};

const std::array<std::string, 4> kLetters = {"A", "B", "C", "D"};
const std::vector<std::string> kHeader = {"question", "choice0", "choice1", "choice2", "choice3", "answer"};
constexpr const char* kFewshotSplit = "dev";

std::string description(const std::string& subject) {
  std::string s = subject;
  std::replace(s.begin(), s.end(), '_', ' ');
  return "The following are multiple choice questions (with answers) about " + s + ".\n\n";
}

std::string doc_text(const MmluItem& it) {
  std::string s = py_strip(it.question);
  for (int i = 0; i < 4; ++i) s += "\n" + kLetters[i] + ". " + it.choices[i];
  return s + "\nAnswer:";
}

std::string subject_path(const std::string& data_dir, const std::string& split, const std::string& subject) {
  return (std::filesystem::path(data_dir) / "mmlu" / split / (subject + "_" + split + ".csv")).string();
}

// Either layout, detected per file: the Hugging Face export with the header
// question,choice0,choice1,choice2,choice3,answer and answers 0-3, or the original headerless
// layout with answers A-D.
std::vector<MmluItem> read_subject(const std::string& path) {
  const auto rows = read_csv(path, 6);
  const bool header = rows.front().fields == kHeader;
  std::vector<MmluItem> items;
  for (size_t i = header ? 1 : 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    const std::string& a = r.fields[5];
    MmluItem it;
    it.question = r.fields[0];
    for (int c = 0; c < 4; ++c) it.choices[c] = r.fields[1 + c];
    const std::string where = path + ":" + std::to_string(r.line);
    if (header) {
      if (a.size() != 1 || a[0] < '0' || a[0] > '3')
        throw Error(where, "bad answer '" + a + "' (expected 0-3 in the headed layout)");
      it.answer = a[0] - '0';
    } else {
      if (a.size() != 1 || a[0] < 'A' || a[0] > 'D')
        throw Error(where, "bad answer letter '" + a + "' (expected A-D in the headerless layout)");
      it.answer = a[0] - 'A';
    }
    items.push_back(std::move(it));
  }
  if (items.empty()) throw Error(path, "no questions");
  return items;
}

class MmluTask final : public Task {
 public:
  std::string name() const override { return "mmlu"; }
  std::string version() const override { return "1.0"; }
  std::string default_split() const override { return "test"; }
  std::string template_text() const override {
    return std::string("task: mmlu (lm-eval mmlu/default/_default_template_yaml)\n") +
           "description: The following are multiple choice questions (with answers) about "
           "{subject with _ replaced by space}.\\n\\n\n" +
           "doc_to_text: {{question.strip()}}\\nA. {{choices[0]}}\\nB. {{choices[1]}}\\n"
           "C. {{choices[2]}}\\nD. {{choices[3]}}\\nAnswer:\n" +
           "choices: [\" A\", \" B\", \" C\", \" D\"] (doc_to_choice with target_delimiter \" \")\n" +
           "gold: answer (0-3)\n" +
           "fewshot: first k documents of dev (first_n), each doc_to_text + \" \" + letter, "
           "followed by \"\\n\\n\"; prompt = description + examples + doc_to_text\n";
  }

  std::vector<Doc> load(const TaskOptions& opt) const override {
    check_task_options(opt, name());
    const std::string split = opt.split.empty() ? default_split() : opt.split;
    check(split.find_first_of("/\\") == std::string::npos && split != "." && split != "..", "",
          "mmlu: bad split name '" + split + "'");
    const int shots = opt.shots < 0 ? default_shots() : opt.shots;
    const auto& known = mmlu_subjects();

    std::vector<std::string> subjects;
    if (!opt.subjects.empty()) {
      for (const auto& s : opt.subjects) {
        if (std::find(known.begin(), known.end(), s) == known.end())
          throw Error("mmlu: unknown subject '" + s + "' (subjects are file stems such as "
                      "abstract_algebra, high_school_us_history)");
        if (std::find(subjects.begin(), subjects.end(), s) == subjects.end()) subjects.push_back(s);
      }
    } else {  // every standard subject present in the split folder
      std::error_code ec;
      for (const auto& s : known)
        if (std::filesystem::exists(subject_path(opt.data_dir, split, s), ec)) subjects.push_back(s);
      if (subjects.empty()) {
        const std::string dir = (std::filesystem::path(opt.data_dir) / "mmlu" / split).string();
        throw Error(dir, "no MMLU subject files (<subject>_" + split + ".csv)");
      }
    }

    std::vector<Doc> docs;
    PyRandom unused_rnd;  // first_n draws nothing from it
    for (const auto& subject : subjects) {
      const auto items = read_subject(subject_path(opt.data_dir, split, subject));
      std::vector<MmluItem> pool;
      if (shots > 0) {
        const std::string fs_path = subject_path(opt.data_dir, kFewshotSplit, subject);
        pool = split == kFewshotSplit ? items : read_subject(fs_path);
        const bool draw_extra = split == kFewshotSplit;  // see first_n below
        if (pool.size() < static_cast<size_t>(shots) + (draw_extra ? 1 : 0))
          throw Error(fs_path, "only " + std::to_string(pool.size()) + " examples for " +
                                   std::to_string(shots) + " shots" +
                                   (draw_extra ? " (+1: the evaluated split is the few-shot split)" : ""));
      }
      const std::string desc = description(subject);
      const size_t n = opt.limit > 0 ? std::min(items.size(), static_cast<size_t>(opt.limit)) : items.size();
      for (size_t i = 0; i < n; ++i) {
        const MmluItem& it = items[i];
        Doc d;
        d.id = subject + ":" + split + ":" + std::to_string(i);
        d.group = subject;
        // first_n sampler. Evaluating the few-shot split itself is lm-eval with test_split = dev, i.e.
        // fewshot_split == test_split: k + 1 taken, the document left out (rm_eval_doc compares
        // documents by value), first k kept.
        const auto chosen = draw_fewshot(FewshotSampler::first_n, unused_rnd, pool.size(), shots,
                                         split == kFewshotSplit, [&](size_t j) { return pool[j] == it; });
        std::vector<FewshotExample> examples;
        for (size_t j : chosen) {
          examples.push_back({doc_text(pool[j]), kLetters[pool[j].answer]});
          d.fewshot_ids.push_back(subject + ":" + kFewshotSplit + ":" + std::to_string(j));
        }
        if (chosen.size() < static_cast<size_t>(shots))
          throw Error("mmlu: not enough few-shot examples in " + std::string(kFewshotSplit) +
                      " for document " + d.id);
        d.context = fewshot_context(desc, examples, doc_text(it), kTargetDelimiter, kFewshotDelimiter);
        for (const auto& l : kLetters) d.choices.push_back(kTargetDelimiter + l);
        d.gold = it.answer;
        docs.push_back(std::move(d));
      }
    }
    return docs;
  }
};

}  // namespace

std::unique_ptr<Task> make_mmlu_task() { return std::make_unique<MmluTask>(); }

}  // namespace eeb
