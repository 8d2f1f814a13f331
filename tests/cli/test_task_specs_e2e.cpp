// Task specs end to end through the eebench binary: `list tasks`, `tasks show`, `run --task` with a
// user's spec (copies of lm-eval's glue/sst2 and one MMLU subject against the built-in sst2 and mmlu),
// metric_list deciding the stored metrics, one-line errors for bad specs (no run stored), and every
// built-in task under full, adainfer and shortgpt on the shared 12-layer model.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "tests/cli/db_rows.h"
#include "tests/cli/cli_util.h"
#include "tests/temp_dir.h"
#include "tests/test_data.h"

using namespace eeb::testing;
using nlohmann::json;

namespace {

using eeb::testing::rows;

// doc_index -> stored log-likelihoods (the encoded text, compared exactly).
std::map<int, std::string> logliks(const std::string& db) {
  std::map<int, std::string> out;
  for (const auto& r : rows(db, "SELECT doc_index, loglik FROM samples ORDER BY doc_index")) out[std::stoi(r[0])] = r[1];
  return out;
}

std::string model_dir() { return shared_data() + "/models/sst-lm-12L"; }
std::string data_dir() { return shared_data() + "/datasets"; }

// The task names of the spec files shipped in tasks/specs/, read from the files themselves.
std::set<std::string> shipped_spec_names() {
  std::set<std::string> names;
  const std::regex task_line("^task:\\s*(\\S+)\\s*$");
  for (const auto& e : std::filesystem::directory_iterator(std::string(EEB_SOURCE_DIR) + "/tasks/specs")) {
    if (e.path().extension() != ".yaml") continue;
    std::ifstream f(e.path());
    std::string line;
    std::smatch m;
    while (std::getline(f, line))
      if (std::regex_match(line, m, task_line)) names.insert(m[1]);
  }
  return names;
}

// `eebench tasks show` prints each "\n" of the prompt as a visible "\n" followed by the line break.
std::string shown(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '\n' ? std::string("\\n\n") : std::string(1, c);
  return out;
}

std::vector<std::string> nonempty_lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l))
    if (!l.empty()) out.push_back(l);
  return out;
}

}  // namespace

TEST_CASE("eebench list tasks lists every spec shipped in tasks/specs", "[e2e][taskspec]") {
  const auto names = shipped_spec_names();
  REQUIRE(names.size() >= 6);
  auto r = run_cmd("list tasks");
  INFO(r.output);
  REQUIRE(r.status == 0);
  for (const auto& n : names) {
    INFO(n);
    CHECK(std::regex_search(r.output, std::regex("(^|\\s)" + n + "(\\s|$)")));
  }
  CHECK_THAT(r.output, Catch::Contains("sst2"));
  CHECK_THAT(r.output, Catch::Contains("mmlu"));
}

TEST_CASE("eebench tasks show boolq prints the spec and lm-eval's prompt for the first row", "[e2e][taskspec]") {
  SKIP_WITHOUT_DATA();
  // The first row of the shared BoolQ validation file, read here, and lm-eval's
  // super_glue/boolq/default.yaml: doc_to_text "{{passage}}\nQuestion: {{question}}?\nAnswer:",
  // doc_to_choice ["no", "yes"], doc_to_target label.
  std::ifstream f(data_dir() + "/boolq/validation.jsonl");
  std::string first;
  REQUIRE(std::getline(f, first));
  const json doc = json::parse(first);
  const std::string prompt =
      doc["passage"].get<std::string>() + "\nQuestion: " + doc["question"].get<std::string>() + "?\nAnswer:";
  const int label = doc["label"].is_boolean() ? (doc["label"].get<bool>() ? 1 : 0) : doc["label"].get<int>();

  auto r = run_cmd("tasks show boolq -d " + q(data_dir()));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("task: boolq"));
  CHECK_THAT(r.output, Catch::Contains("doc_to_text: \"{{passage}}\\nQuestion: {{question}}?\\nAnswer:\""));
  CHECK_THAT(r.output, Catch::Contains("(gold " + std::to_string(label) + "), prompt with \\n shown:\n" + shown(prompt) +
                                       "\n# choice 0"));
  CHECK_THAT(r.output, Catch::Contains("# choice 0" + std::string(label == 0 ? " (gold)" : "") + ": \" no\""));
  CHECK_THAT(r.output, Catch::Contains("# choice 1" + std::string(label == 1 ? " (gold)" : "") + ": \" yes\""));
}

TEST_CASE("eebench run --task with a user's spec and its own data", "[e2e][taskspec]") {
  SKIP_WITHOUT_DATA();
  TempDir dir("taskspec_user");
  dir.write("data/animals.jsonl",
            "{\"q\": \"A cat is an animal\", \"label\": 1}\n"
            "{\"q\": \"A stone is an animal\", \"label\": 0}\n"
            "{\"q\": \"A dog is an animal\", \"label\": 1}\n"
            "{\"q\": \"A chair is an animal\", \"label\": 0}\n");
  const std::string spec = dir.write("my.yaml",
                                     "task: animals\n"
                                     "dataset:\n  test: data/animals.jsonl\n"
                                     "test_split: test\n"
                                     "doc_to_text: \"{{q}}.\\nQuestion: true or false?\\nAnswer:\"\n"
                                     "doc_to_choice: [\"false\", \"true\"]\n"
                                     "doc_to_target: label\n");
  const std::string db = dir / "u.db";
  auto r = run_cmd("run -q -m " + q(model_dir()) + " --task " + q(spec) + " -s full -d " + q(dir.str()) +
                   " --reps 0 --db " + q(db));
  INFO(r.output);
  REQUIRE(r.status == 0);
  const auto s = rows(db, "SELECT doc_id, gold FROM samples ORDER BY doc_index");
  REQUIRE(s.size() == 4);
  CHECK(s[0] == std::vector<std::string>{"test:0", "1"});
  CHECK(s[3] == std::vector<std::string>{"test:3", "0"});
  CHECK(rows(db, "SELECT name FROM tasks")[0][0] == "animals");
}

TEST_CASE("specs written like lm-eval's glue/sst2 and one MMLU subject give the built-ins' log-likelihoods",
          "[e2e][taskspec]") {
  SKIP_WITHOUT_DATA();
  TempDir dir("taskspec_sst2");
  // lm_eval/tasks/glue/sst2/default.yaml, with the dataset keys pointing at the shared GLUE files.
  const std::string spec = dir.write("sst2_lmeval.yaml",
                                     "tag: glue\n"
                                     "task: sst2_lmeval\n"
                                     "dataset_path: glue\n"
                                     "dataset_name: sst2\n"
                                     "dataset:\n"
                                     "  train: " + data_dir() + "/sst2/train.tsv\n"
                                     "  validation: " + data_dir() + "/sst2/dev.tsv\n"
                                     "output_type: multiple_choice\n"
                                     "training_split: train\n"
                                     "validation_split: validation\n"
                                     "doc_to_text: \"{{sentence}}\\nQuestion: Is this sentence positive or negative?\\nAnswer:\"\n"
                                     "doc_to_target: label\n"
                                     "doc_to_choice: [\"negative\", \"positive\"]\n"
                                     "metric_list:\n  - metric: acc\n"
                                     "metadata:\n  version: 1.0\n");
  for (int shots : {0, 3}) {
    INFO("shots " << shots);
    const std::string common = " -m " + q(model_dir()) + " -s full -d " + q(data_dir()) + " --limit 20 --reps 0 --shots " +
                               std::to_string(shots) + " -q --db ";
    const std::string a = dir / ("spec" + std::to_string(shots) + ".db"), b = dir / ("cpp" + std::to_string(shots) + ".db");
    auto ra = run_cmd("run --task " + q(spec) + common + q(a));
    INFO(ra.output);
    REQUIRE(ra.status == 0);
    auto rb = run_cmd("run -t sst2" + common + q(b));
    INFO(rb.output);
    REQUIRE(rb.status == 0);
    const auto la = logliks(a), lb = logliks(b);
    REQUIRE(la.size() == 20);
    CHECK(la == lb);
    // The same gold labels and the same few-shot rows (both name them train:<row>).
    CHECK(rows(a, "SELECT doc_index, gold, pred FROM samples ORDER BY doc_index") ==
          rows(b, "SELECT doc_index, gold, pred FROM samples ORDER BY doc_index"));
  }
  // lm_eval/tasks/mmlu/default/mmlu_abstract_algebra.yaml with its _default_template_yaml, written as
  // one task (no group); the shared CSV's choice columns become lm-eval's choices list.
  const std::string mmlu = dir.write("mmlu_abstract_algebra.yaml", R"(task: mmlu_abstract_algebra
dataset_path: hails/mmlu_no_train
dataset_name: abstract_algebra
dataset:
  test: mmlu/test/abstract_algebra_test.csv
  dev: mmlu/dev/abstract_algebra_dev.csv
doc_fields:
  choices: "{{[choice0, choice1, choice2, choice3]}}"
test_split: test
fewshot_split: dev
fewshot_config:
  sampler: first_n
output_type: multiple_choice
description: "The following are multiple choice questions (with answers) about abstract algebra.\n\n"
doc_to_text: "{{question.strip()}}\nA. {{choices[0]}}\nB. {{choices[1]}}\nC. {{choices[2]}}\nD. {{choices[3]}}\nAnswer:"
doc_to_choice: ["A", "B", "C", "D"]
doc_to_target: answer
metric_list:
  - metric: acc
metadata:
  version: 1.0
)");
  for (int shots : {0, 5}) {
    INFO("mmlu shots " << shots);
    const std::string common = " -m " + q(model_dir()) + " -s full -d " + q(data_dir()) + " --limit 6 --reps 0 --shots " +
                               std::to_string(shots) + " -q --db ";
    const std::string a = dir / ("mspec" + std::to_string(shots) + ".db"), b = dir / ("mgroup" + std::to_string(shots) + ".db");
    auto ra = run_cmd("run --task " + q(mmlu) + common + q(a));
    INFO(ra.output);
    REQUIRE(ra.status == 0);
    auto rb = run_cmd("run -t mmlu --subjects abstract_algebra" + common + q(b));
    INFO(rb.output);
    REQUIRE(rb.status == 0);
    const auto la = logliks(a), lb = logliks(b);
    REQUIRE(la.size() == 6);
    CHECK(la == lb);
    CHECK(rows(a, "SELECT doc_index, gold, pred FROM samples ORDER BY doc_index") ==
          rows(b, "SELECT doc_index, gold, pred FROM samples ORDER BY doc_index"));
    // The group names the subject; the single task has none.
    CHECK(rows(b, "SELECT DISTINCT grp FROM samples") == std::vector<std::vector<std::string>>{{"abstract_algebra"}});
    CHECK(rows(b, "SELECT doc_id FROM samples ORDER BY doc_index LIMIT 1")[0][0] == "abstract_algebra:test:0");
    CHECK(rows(a, "SELECT doc_id FROM samples ORDER BY doc_index LIMIT 1")[0][0] == "test:0");
  }
}

TEST_CASE("metric_list decides the stored accuracy metrics; show, report and compare work without the other",
          "[e2e][taskspec]") {
  SKIP_WITHOUT_DATA();
  TempDir dir("taskspec_metrics");
  dir.write("data/animals.jsonl",
            "{\"q\": \"A cat is an animal\", \"label\": 1}\n"
            "{\"q\": \"A stone is an animal\", \"label\": 0}\n"
            "{\"q\": \"A dog is an animal\", \"label\": 1}\n");
  const std::string head = "task: animals\ndataset:\n  test: data/animals.jsonl\ntest_split: test\n"
                           "doc_to_text: \"{{q}}.\\nAnswer:\"\ndoc_to_choice: [\"false\", \"true\"]\ndoc_to_target: label\n";
  const std::map<std::string, std::vector<std::string>> cases = {
      {"acc", {"acc"}}, {"acc_norm", {"acc_norm"}}, {"both", {"acc", "acc_norm"}}};
  for (const auto& [name, metrics] : cases) {
    INFO(name);
    std::string yaml = head + "metric_list:\n";
    for (const auto& m : metrics) yaml += "  - metric: " + m + "\n";
    const std::string spec = dir.write(name + ".yaml", yaml), db = dir / (name + ".db");
    for (int i = 0; i < 2; ++i) {  // two runs, for compare
      auto r = run_cmd("run -q -m " + q(model_dir()) + " --task " + q(spec) + " -s full --reps 0 -d " + q(dir.str()) +
                       " --db " + q(db));
      INFO(r.output);
      REQUIRE(r.status == 0);
    }
    std::vector<std::vector<std::string>> want;
    for (const auto& m : metrics) want.push_back({m});
    CHECK(rows(db, "SELECT DISTINCT name FROM metrics WHERE name LIKE 'acc%' ORDER BY name") == want);
    auto show = run_cmd("show 1 --db " + q(db));
    INFO(show.output);
    CHECK(show.status == 0);
    auto report = run_cmd("report --db " + q(db));
    INFO(report.output);
    CHECK(report.status == 0);
    CHECK_THAT(report.output, Catch::Contains(metrics[0] + " (%)"));
    if (metrics.size() == 1)
      CHECK_THAT(report.output, !Catch::Contains((metrics[0] == "acc" ? "acc_norm" : "acc (%)") + std::string(" ")));
    auto cmp = run_cmd("compare 1 2 --db " + q(db));
    INFO(cmp.output);
    CHECK(cmp.status == 0);
    CHECK_THAT(cmp.output, Catch::Contains(metrics[0]));
    if (name == "acc") CHECK_THAT(cmp.output, !Catch::Contains("acc_norm"));
  }
}

TEST_CASE("bad task specs: one line naming file:line, non-zero exit", "[e2e][taskspec]") {
  TempDir dir("taskspec_bad");
  // The first row's target 5 is out of range for two choices.
  const std::string data = dir.write("d.jsonl", "{\"x\": \"one\", \"y\": 5}\n{\"x\": \"two\", \"y\": 0}\n");
  const std::string head = "task: bad\ndataset:\n  test: d.jsonl\ntest_split: test\n";  // lines 1-4
  struct Case {
    const char* what;
    std::string yaml;
    std::vector<std::string> must_contain;
  };
  const std::vector<Case> cases = {
      {"missing key", head + "doc_to_choice: [\"a\", \"b\"]\ndoc_to_target: y\n", {":1:", "missing key 'doc_to_text'"}},
      {"unknown sampler",
       head + "doc_to_text: \"{{x}}\"\ndoc_to_choice: [\"a\", \"b\"]\ndoc_to_target: y\nfewshot_config:\n  sampler: lucky\n",
       {":9:", "lucky"}},
      {"template with a missing field",
       head + "doc_to_text: \"{{x}} {{nosuch}}\"\ndoc_to_choice: [\"a\", \"b\"]\ndoc_to_target: y\n",
       {":5:", "nosuch", data + ":1"}},
      {"target out of range", head + "doc_to_text: \"{{x}}\"\ndoc_to_choice: [\"a\", \"b\"]\ndoc_to_target: y\n",
       {":7:", "out of range", data + ":1"}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    INFO(c.what);
    const std::string spec = dir.write("bad_" + std::to_string(i) + ".yaml", c.yaml);
    // Both load the task first: the one error line is all they print, and `run` stores no run.
    const std::string db = dir / "bad.db";
    std::vector<std::string> cmds = {"tasks show " + q(spec) + " -d " + q(dir.str())};
    if (have_shared_data())
      cmds.push_back("run -m " + q(model_dir()) + " --task " + q(spec) + " -s full --reps 0 -d " + q(dir.str()) +
                     " --db " + q(db));
    for (const auto& cmd : cmds) {
      auto r = run_cmd(cmd);
      INFO(cmd << "\n" << r.output);
      CHECK(r.status != 0);
      CHECK(r.status < 128);  // an error, not a crash
      const auto lines = nonempty_lines(r.output);
      REQUIRE(lines.size() == 1);
      CHECK_THAT(lines[0], Catch::StartsWith("eebench: error: "));
      CHECK_THAT(lines[0], Catch::Contains(spec + ":"));
      for (const auto& m : c.must_contain) CHECK_THAT(lines[0], Catch::Contains(m));
    }
    if (have_shared_data() && std::filesystem::exists(db))
      CHECK(rows(db, "SELECT count(*) FROM runs")[0][0] == "0");
  }
}

TEST_CASE("every built-in task runs with full, adainfer and shortgpt on the shared model", "[e2e][taskspec]") {
  SKIP_WITHOUT_DATA();
  // The split each task trains AdaInfer's classifier and calibrates ShortGPT on: train where the
  // shared data has one, else the evaluated split (docs/TASKS.md).
  // MMLU: one subject, trained and calibrated on its 5 dev questions.
  const std::map<std::string, std::string> calib = {
      {"sst2", "train"},          {"mmlu", "dev"},  {"sst2_test", "train"}, {"boolq", "validation"},
      {"piqa", "validation"}, {"commonsense_qa", "validation"}, {"ag_news", "test"}, {"wsc273", "test"}};
  for (const auto& n : shipped_spec_names()) {
    INFO("a shipped spec without an entry here: " << n);
    CHECK(calib.count(n) == 1);
  }
  TempDir dir("taskspec_all");
  for (const auto& [task, split] : calib) {
    const std::string db = dir / (task + ".db");
    const std::map<std::string, std::string> strategies = {
        {"full", "{}"},
        {"adainfer", "{\"train_split\": \"" + split + "\", \"train_size\": " + (task == "mmlu" ? "5" : "16") + "}"},
        {"shortgpt", "{\"n\": 2, \"calib_split\": \"" + split + "\", \"calib_size\": " + (task == "mmlu" ? "5" : "8") + "}"}};
    for (const auto& [s, params] : strategies) {
      INFO(task << " " << s);
      auto r = run_cmd("run -q -m " + q(model_dir()) + " -t " + task + (task == "mmlu" ? " --subjects abstract_algebra" : "") +
                       " -s " + s + " -p " + q(params) + " -d " + q(data_dir()) + " --limit 3 --reps 0 --db " + q(db));
      INFO(r.output);
      CHECK(r.status == 0);
    }
    const auto per_trial = rows(db, "SELECT g.name, COUNT(x.doc_index) FROM trials t JOIN strategies g ON g.id = t.strategy_id "
                                    "LEFT JOIN samples x ON x.trial_id = t.id GROUP BY t.id ORDER BY g.name");
    INFO(task);
    REQUIRE(per_trial.size() == 3);
    for (const auto& t : per_trial) {
      INFO(t[0]);
      CHECK(t[1] == "3");
    }
  }
}
