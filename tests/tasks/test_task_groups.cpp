// Spec groups (group: dataset_names, one member task per name, as lm-eval's per-subject MMLU YAMLs),
// eebench's row keys (dataset_columns, doc_fields, row_index_field), split second names, metric_list,
// and which few-shot pool draws one more document. Prompts are written out here by hand.
#include <string>
#include <vector>

#include "tasks/task.h"
#include "tasks/task_spec.h"
#include "tests/tasks/task_test_util.h"

using eeb::testing::require_error;
using eeb::testing::TempDir;

namespace {

eeb::TaskOptions opts(const std::string& dir, int shots = 0, int limit = 0) {
  eeb::TaskOptions o;
  o.data_dir = dir;
  o.shots = shots;
  o.limit = limit;
  return o;
}

const char* kGroup =
    "task: quiz\n"
    "group:\n"
    "  dataset_names: [red_fruit, blue_sky, green_tea]\n"
    "  aggregate_metric_list:\n"
    "    - metric: acc\n"
    "      weight_by_size: true\n"
    "dataset:\n"
    "  test: quiz/{{dataset_name}}.test.jsonl\n"
    "  dev: quiz/{{dataset_name}}.dev.jsonl\n"
    "test_split: test\n"
    "fewshot_split: dev\n"
    "fewshot_config:\n  sampler: first_n\n"
    "description: \"About {{dataset_name.replace('_', ' ')}}:\\n\\n\"\n"
    "doc_to_text: \"{{q}}\\nAnswer:\"\n"
    "doc_to_choice: [\"no\", \"yes\"]\n"
    "doc_to_target: a\n"
    "metric_list:\n  - metric: acc\n";

std::string row(const std::string& q, int a) { return "{\"q\": \"" + q + "\", \"a\": " + std::to_string(a) + "}\n"; }

}  // namespace

TEST_CASE("spec groups: one member per dataset name, in the spec's order, limit per member") {
  TempDir d;
  // green_tea has no files: skipped when no subjects are named.
  d.write("quiz/red_fruit.test.jsonl", row("Is a cherry red?", 1) + row("Is a lime red?", 0) + row("Is blood red?", 1));
  d.write("quiz/blue_sky.test.jsonl", row("Is the sky blue?", 1) + row("Is grass blue?", 0));
  d.write("quiz/red_fruit.dev.jsonl", row("Is a tomato red?", 1) + row("Is snow red?", 0));
  d.write("quiz/blue_sky.dev.jsonl", row("Is the sea blue?", 1));
  auto t = eeb::parse_task_spec(kGroup, "quiz.yaml");
  CHECK(eeb::task_group_members(*t) == std::vector<std::string>{"red_fruit", "blue_sky", "green_tea"});
  CHECK(t->metrics() == std::vector<std::string>{"acc"});

  const auto docs = t->load(opts(d.str(), 1, 2));
  REQUIRE(docs.size() == 4);
  CHECK(docs[0].id == "red_fruit:test:0");
  CHECK(docs[0].group == "red_fruit");
  CHECK(docs[0].context == "About red fruit:\n\nIs a tomato red?\nAnswer: yes\n\nIs a cherry red?\nAnswer:");
  CHECK(docs[0].fewshot_ids == std::vector<std::string>{"red_fruit:dev:0"});
  CHECK(docs[1].id == "red_fruit:test:1");
  CHECK(docs[1].gold == 0);
  CHECK(docs[2].id == "blue_sky:test:0");
  CHECK(docs[2].group == "blue_sky");
  CHECK(docs[2].context == "About blue sky:\n\nIs the sea blue?\nAnswer: yes\n\nIs the sky blue?\nAnswer:");
  CHECK(docs[2].fewshot_ids == std::vector<std::string>{"blue_sky:dev:0"});
  CHECK(docs[3].id == "blue_sky:test:1");

  // Subjects in the order asked, each once; a named member without its file is an error.
  auto o = opts(d.str());
  o.subjects = {"blue_sky", "red_fruit", "blue_sky"};
  const auto picked = t->load(o);
  REQUIRE(picked.size() == 5);
  CHECK(picked[0].group == "blue_sky");
  CHECK(picked[2].group == "red_fruit");
  o.subjects = {"green_tea"};
  require_error([&] { t->load(o); }, {d.str() + "/quiz/green_tea.test.jsonl", "file not found"});
  o.subjects = {"purple_rain"};
  require_error([&] { t->load(o); }, {"quiz: unknown subject 'purple_rain'", "3 members"});

  // The evaluated split is the few-shot split: k + 1 taken, the document itself left out.
  o.subjects = {"red_fruit"};
  o.split = "dev";
  o.shots = 1;
  const auto dev = t->load(o);
  REQUIRE(dev.size() == 2);
  CHECK(dev[0].context == "About red fruit:\n\nIs snow red?\nAnswer: no\n\nIs a tomato red?\nAnswer:");
  CHECK(dev[1].context == "About red fruit:\n\nIs a tomato red?\nAnswer: yes\n\nIs snow red?\nAnswer:");
  o.subjects = {"blue_sky"};  // one dev row: 1 shot + 1 is too many
  require_error([&] { t->load(o); }, {d.str() + "/quiz/blue_sky.dev.jsonl", "1 documents for 1 shots"});

  TempDir empty;
  require_error([&] { t->load(opts(empty.str())); },
                {empty.str() + "/quiz/red_fruit.test.jsonl", "no 'test' file for any of the 3 members of group quiz"});
  // The hash covers the member list.
  std::string other = kGroup;
  other.replace(other.find("green_tea"), 9, "grey_tea");
  CHECK(eeb::template_hash(*t) != eeb::template_hash(*eeb::parse_task_spec(other, "other.yaml")));
}

TEST_CASE("spec rows: dataset_columns with or without the header line, doc_fields, row_index_field") {
  TempDir d;
  const std::string spec =
      "task: cols\n"
      "dataset:\n  test: t.csv\n  dev: test\n"
      "test_split: test\n"
      "fewshot_split: test\n"
      "fewshot_config:\n  sampler: first_n\n"
      "dataset_columns: [q, c0, c1, ans]\n"
      "doc_fields:\n  opts: \"{{[c0, c1]}}\"\n  n_opts: \"{{opts|length}}\"\n"
      "doc_to_text: \"{{q}} ({{opts[0]}}/{{opts[1]}}, {{n_opts}})\"\n"
      "doc_to_choice: opts\n"
      "doc_to_target: ans\n";
  auto t = eeb::parse_task_spec(spec, "cols.yaml");
  d.write("t.csv", "q,c0,c1,ans\nSky?,blue,red,0\nGrass?,blue,green,1\n");
  const auto headed = t->load(opts(d.str()));
  d.write("t.csv", "Sky?,blue,red,0\nGrass?,blue,green,1\n");
  const auto bare = t->load(opts(d.str()));
  REQUIRE(headed.size() == 2);
  REQUIRE(bare.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(headed[i].context == bare[i].context);
    CHECK(headed[i].gold == bare[i].gold);
  }
  CHECK(headed[1].context == "Grass? (blue/green, 2)");
  CHECK(headed[1].choices == std::vector<std::string>{" blue", " green"});
  CHECK(headed[1].gold == 1);
  d.write("t.csv", "Sky?,blue,red\n");
  require_error([&] { t->load(opts(d.str())); }, {d.str() + "/t.csv:1: ", "expected 4 fields"});

  // A split's second name reads the split under its own name.
  auto o = opts(d.str());
  o.split = "dev";
  d.write("t.csv", "Sky?,blue,red,0\n");
  CHECK(t->load(o).at(0).id == "test:0");

  // Two equal rows: lm-eval compares few-shot candidates with the document by value, so without a
  // row index the copy is left out too; with row_index_field (GLUE's idx) only the row itself.
  d.write("t.csv", "Sky?,blue,red,0\nSky?,blue,red,0\nGrass?,blue,green,1\n");
  const auto by_value = t->load(opts(d.str(), 1, 1));
  REQUIRE(by_value.size() == 1);
  CHECK(by_value[0].fewshot_ids.empty());  // first_n took rows 0 and 1, both equal to the document
  auto indexed = eeb::parse_task_spec(spec + "row_index_field: idx\n", "cols.yaml");
  const auto by_row = indexed->load(opts(d.str(), 1, 1));
  REQUIRE(by_row.size() == 1);
  CHECK(by_row[0].fewshot_ids == std::vector<std::string>{"test:1"});
  CHECK(eeb::template_hash(*t) != eeb::template_hash(*indexed));
}

TEST_CASE("spec metric_list: the listed metrics, lm-eval's acc and acc_norm without one") {
  const std::string head =
      "task: m\ndataset:\n  test: t.jsonl\ntest_split: test\ndoc_to_text: q\ndoc_to_choice: [a, b]\ndoc_to_target: 0\n";
  CHECK(eeb::parse_task_spec(head, "m.yaml")->metrics() == std::vector<std::string>{"acc", "acc_norm"});
  CHECK(eeb::parse_task_spec(head + "metric_list:\n  - metric: acc_norm\n", "m.yaml")->metrics() ==
        std::vector<std::string>{"acc_norm"});
  CHECK(eeb::parse_task_spec(head + "metric_list:\n  - metric: acc\n  - metric: acc\n", "m.yaml")->metrics() ==
        std::vector<std::string>{"acc"});
  require_error([&] { eeb::parse_task_spec(head + "metric_list: []\n", "m.yaml"); }, {"m.yaml:8:", "non-empty"});
}

TEST_CASE("spec groups and row keys: bad specs are one line naming file:line") {
  const std::string body =
      "test_split: test\ndoc_to_text: q\ndoc_to_choice: [a, b]\ndoc_to_target: 0\nmetric_list:\n  - metric: acc\n";
  struct Case {
    std::string yaml;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {"task: g\ndataset:\n  test: \"{{dataset_name}}.jsonl\"\n" + body, {"g.yaml:3:", "needs a group"}},
      {"task: g\ngroup:\n  names: [a]\ndataset:\n  test: x.jsonl\n" + body, {"g.yaml:3:", "missing key 'dataset_names'"}},
      {"task: g\ngroup:\n  dataset_names: [a, a]\ndataset:\n  test: x.jsonl\n" + body, {"g.yaml:3:", "listed twice"}},
      {"task: g\ngroup:\n  dataset_names: [a, b]\n  weights: 1\ndataset:\n  test: x.jsonl\n" + body,
       {"g.yaml:4:", "unknown key 'weights'"}},
      {"task: g\ngroup:\n  dataset_names: [a]\n  aggregate_metric_list:\n    - metric: acc\ndataset:\n  test: x.jsonl\n" + body,
       {"g.yaml:5:", "weight_by_size: true is required"}},
      {"task: g\ngroup:\n  dataset_names: [a]\n  aggregate_metric_list:\n    - metric: acc_norm\n      weight_by_size: true\n"
       "dataset:\n  test: x.jsonl\n" + body,
       {"g.yaml:5:", "'acc_norm' is not in metric_list"}},
      {"task: g\ngroup:\n  dataset_names: [a]\n  aggregate_metric_list:\n    - metric: acc\n      weight_by_size: false\n"
       "dataset:\n  test: x.jsonl\n" + body,
       {"g.yaml:6:", "unsupported"}},
      {"task: g\ndataset:\n  test: x.csv\ndoc_fields:\n  c: \"{{x|shuffle}}\"\n" + body, {"g.yaml:5:", "doc_fields", "shuffle"}},
      {"task: g\ndataset:\n  test: x.csv\n  a: b\n  b: test\n" + body, {"g.yaml:4:", "second name"}},
  };
  for (const auto& c : cases) {
    INFO(c.yaml);
    try {
      eeb::parse_task_spec(c.yaml, "g.yaml");
      FAIL("expected an eeb::Error");
    } catch (const eeb::Error& e) {
      const std::string msg = e.what();
      INFO(msg);
      CHECK(msg.find('\n') == std::string::npos);
      for (const auto& p : c.parts) CHECK(msg.find(p) != std::string::npos);
    }
  }
  // A doc_fields template that fails on a row names the row.
  TempDir d;
  d.write("x.jsonl", "{\"q\": \"hi\"}\n");
  auto t = eeb::parse_task_spec("task: g\ndataset:\n  test: x.jsonl\ndoc_fields:\n  c: \"{{nosuch[0]}}\"\n" + body, "g.yaml");
  require_error([&] { t->load(opts(d.str())); }, {"g.yaml:5:", "doc_fields.c", "nosuch", d.str() + "/x.jsonl:1"});
}
