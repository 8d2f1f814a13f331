// Built-in task specs against the prompts lm-eval's YAMLs build, written out here by hand from each
// YAML (field by field, on rows read independently of the task code), plus the spec reader's errors.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tasks/task.h"
#include "tasks/task_spec.h"
#include "tokenizer/tokenizer.h"
#include "tests/tasks/task_test_util.h"
#include "tests/test_data.h"

using eeb::testing::require_error;
using json = nlohmann::json;

namespace {

std::string data() { return eeb::testing::shared_data() + "/datasets"; }

std::vector<json> jsonl(const std::string& path, size_t n) {
  std::ifstream in(path);
  std::vector<json> out;
  std::string l;
  while (out.size() < n && std::getline(in, l)) out.push_back(json::parse(l));
  return out;
}

// Minimal RFC 4180 reading of the first n records after the header (quotes, "" escapes).
std::vector<std::vector<std::string>> csv_rows(const std::string& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::vector<std::string>> rows(1);
  std::string f;
  bool q = false;
  for (size_t i = 0; i < all.size() && rows.size() <= n + 1; ++i) {
    const char c = all[i];
    if (q) {
      if (c == '"' && i + 1 < all.size() && all[i + 1] == '"') f += '"', ++i;
      else if (c == '"') q = false;
      else f += c;
    } else if (c == '"') q = true;
    else if (c == ',') rows.back().push_back(f), f.clear();
    else if (c == '\n') rows.back().push_back(f), f.clear(), rows.emplace_back();
    else if (c != '\r') f += c;
  }
  rows.erase(rows.begin());  // header
  rows.resize(n);
  return rows;
}

std::vector<eeb::Doc> load(const std::string& name, int limit, int shots = -1) {
  eeb::TaskOptions o;
  o.data_dir = data();
  o.limit = limit;
  o.shots = shots;
  return eeb::make_task(name)->load(o);
}

std::string strip(const std::string& s) {  // ASCII is enough for these rows
  const auto b = s.find_first_not_of(" \t\n\r"), e = s.find_last_not_of(" \t\n\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

bool have_python() { return std::system("command -v python3 >/dev/null 2>&1") == 0; }

std::string python(const std::string& code) {
  eeb::testing::TempDir dir;
  FILE* p = ::popen(("python3 " + dir.write("t.py", code)).c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  REQUIRE(::pclose(p) == 0);
  return out;
}

std::vector<size_t> numbers(const std::string& s) {
  std::istringstream in(s);
  std::vector<size_t> v;
  for (size_t x; in >> x;) v.push_back(x);
  return v;
}

}  // namespace

TEST_CASE("task specs: every built-in spec parses and is registered") {
  const auto& specs = eeb::builtin_task_specs();
  std::vector<std::string> names;
  for (const auto& s : specs) names.push_back(s.name);
  for (const char* want : {"sst2", "mmlu", "boolq", "piqa", "commonsense_qa", "ag_news", "wsc273", "sst2_test"}) {
    INFO(want);
    CHECK(std::find(names.begin(), names.end(), want) != names.end());
    auto t = eeb::make_task(want);
    CHECK(t->name() == want);
    CHECK(eeb::task_spec_text(*t).find("task: " + std::string(want)) != std::string::npos);
    bool listed = false;
    for (const auto& i : eeb::list_tasks()) listed = listed || i.name == want;
    CHECK(listed);
  }
  CHECK(eeb::task_spec_text(*eeb::make_task("prompts")).empty());  // generation tasks are C++
  // metric_list as lm-eval's YAMLs list it.
  CHECK(eeb::make_task("sst2")->metrics() == std::vector<std::string>{"acc"});
  CHECK(eeb::make_task("mmlu")->metrics() == std::vector<std::string>{"acc"});
  CHECK(eeb::make_task("piqa")->metrics() == std::vector<std::string>{"acc", "acc_norm"});
}

// lm-eval super_glue/boolq/default.yaml: "{{passage}}\nQuestion: {{question}}?\nAnswer:", ["no", "yes"], label.
TEST_CASE("task specs: boolq prompts as lm-eval's YAML builds them") {
  SKIP_WITHOUT_DATA();
  const auto rows = jsonl(data() + "/boolq/validation.jsonl", 3);
  const auto docs = load("boolq", 3);
  REQUIRE(docs.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    const json& r = rows[i];
    CHECK(docs[i].context == r["passage"].get<std::string>() + "\nQuestion: " + r["question"].get<std::string>() +
                                 "?\nAnswer:");
    CHECK(docs[i].choices == std::vector<std::string>{" no", " yes"});
    CHECK(docs[i].gold == r["label"].get<int>());
    CHECK(docs[i].id == "validation:" + std::to_string(i));
  }
}

// lm-eval piqa/piqa.yaml: "Question: {{goal}}\nAnswer:", "{{[sol1, sol2]}}", label.
TEST_CASE("task specs: piqa prompts as lm-eval's YAML builds them") {
  SKIP_WITHOUT_DATA();
  const auto rows = jsonl(data() + "/piqa/validation.jsonl", 3);
  const auto docs = load("piqa", 3);
  REQUIRE(docs.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    const json& r = rows[i];
    CHECK(docs[i].context == "Question: " + r["goal"].get<std::string>() + "\nAnswer:");
    CHECK(docs[i].choices == std::vector<std::string>{" " + r["sol1"].get<std::string>(), " " + r["sol2"].get<std::string>()});
    CHECK(docs[i].gold == r["label"].get<int>());
  }
}

// lm-eval commonsense_qa/default.yaml: "Question: {{ question.strip() }}\nA. {{choices['text'][0]}}
// ...\nE. {{choices['text'][4]}}\nAnswer:", ['A'..'E'], answerKey (a letter: its index).
TEST_CASE("task specs: commonsense_qa prompts as lm-eval's YAML builds them") {
  SKIP_WITHOUT_DATA();
  const auto rows = jsonl(data() + "/commonsense_qa/validation.jsonl", 3);
  const auto docs = load("commonsense_qa", 3);
  REQUIRE(docs.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    const json& r = rows[i];
    const auto& t = r["choices"]["text"];
    std::string want = "Question: " + strip(r["question"].get<std::string>());
    const char* letters[] = {"A", "B", "C", "D", "E"};
    for (int c = 0; c < 5; ++c) want += std::string("\n") + letters[c] + ". " + t[c].get<std::string>();
    want += "\nAnswer:";
    CHECK(docs[i].context == want);
    CHECK(docs[i].choices == std::vector<std::string>{" A", " B", " C", " D", " E"});
    CHECK(docs[i].gold == r["answerKey"].get<std::string>()[0] - 'A');
  }
}

// lm-eval wsc273/default.yaml: doc_to_text label (an index), doc_to_choice = the two sentence starts,
// doc_to_target = the rest: requests (ctx + choice, " " + rest), partial scoring.
TEST_CASE("task specs: wsc273 partial-scoring requests as lm-eval's YAML builds them") {
  SKIP_WITHOUT_DATA();
  const auto rows = jsonl(data() + "/wsc273/test.jsonl", 3);
  const auto docs = load("wsc273", 3);
  REQUIRE(docs.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    const json& r = rows[i];
    CHECK(docs[i].context.empty());
    CHECK(docs[i].choice_contexts ==
          std::vector<std::string>{r["context_options"][0].get<std::string>(), r["context_options"][1].get<std::string>()});
    const std::string cont = " " + r["continuation"].get<std::string>();
    CHECK(docs[i].choices == std::vector<std::string>{cont, cont});
    CHECK(docs[i].gold == r["gold"].get<int>());
  }
}

// No lm-eval YAML: the AdaInfer-style prompt of tasks/specs/ag_news.yaml.
TEST_CASE("task specs: ag_news prompts") {
  SKIP_WITHOUT_DATA();
  const auto rows = csv_rows(data() + "/ag_news/test.csv", 3);
  const auto docs = load("ag_news", 3);
  REQUIRE(docs.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(docs[i].context ==
          "Classify the news articles into the categories of World, Sports, Business, and Technology.\n\n"
          "Article: " + rows[i][1] + " " + rows[i][2] + "\nAnswer:");
    CHECK(docs[i].choices == std::vector<std::string>{" World", " Sports", " Business", " Technology"});
    CHECK(docs[i].gold == std::stoi(rows[i][0]));
  }
}

TEST_CASE("task specs: sst2_test prompts, and few-shot draws as lm-eval's default sampler") {
  SKIP_WITHOUT_DATA();
  std::ifstream in(data() + "/sst2/test_labeled.tsv");
  std::string l;
  std::getline(in, l);
  const auto docs = load("sst2_test", 3);
  REQUIRE(docs.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    std::getline(in, l);
    const auto tab = l.rfind('\t');
    CHECK(docs[i].context == l.substr(0, tab) + "\nQuestion: Is this sentence positive or negative?\nAnswer:");
    CHECK(docs[i].gold == std::stoi(l.substr(tab + 1)));
  }
  if (!have_python()) {
    WARN("SKIPPED: python3 not found");
    return;
  }
  // test_split is set and fewshot_split is not: lm-eval draws exactly k from train.
  const auto fs = load("sst2_test", 10, 3);
  const auto want = numbers(python("import random\nr = random.Random(1234)\n"
                                   "for _ in range(10): print(*r.sample(range(67349), 3))\n"));
  REQUIRE(want.size() == 30);
  for (size_t i = 0; i < 10; ++i)
    for (size_t k = 0; k < 3; ++k) CHECK(fs[i].fewshot_ids.at(k) == "train:" + std::to_string(want[i * 3 + k]));
  // ag_news: fewshot_split == test_split, so k + 1 are drawn and rows equal to the document dropped.
  const auto ag = load("ag_news", 12, 2);
  const auto agw = numbers(python(
      "import csv, random\nrows = list(csv.reader(open('" + data() + "/ag_news/test.csv', newline='')))[1:]\n"
      "r = random.Random(1234)\n"
      "for i in range(12): print(*[j for j in r.sample(range(len(rows)), 3) if rows[j] != rows[i]][:2])\n"));
  REQUIRE(agw.size() == 24);
  for (size_t i = 0; i < 12; ++i)
    for (size_t k = 0; k < 2; ++k) CHECK(ag[i].fewshot_ids.at(k) == "test:" + std::to_string(agw[i * 2 + k]));
}

TEST_CASE("task specs: few-shot prompt assembly as lm-eval's fewshot_context") {
  eeb::testing::TempDir dir;
  dir.write("d/train.jsonl", "{\"q\": \"one\", \"a\": 0}\n{\"q\": \"two\", \"a\": 1}\n{\"q\": \"three\", \"a\": 1}\n");
  dir.write("d/test.csv", "q,a\nfour,0\n");
  const std::string spec = dir.write("t.yaml",
      "task: t\ndataset: {train: d/train.jsonl, test: d/test.csv}\ntest_split: test\ntraining_split: train\n"
      "description: \"D {{q}}\\n\"\ndoc_to_text: \"Q: {{q}}\"\ndoc_to_choice: [\"no\", \"yes\"]\n"
      "doc_to_target: a\ntarget_delimiter: \" =\"\nfewshot_delimiter: \"|\"\nfewshot_config:\n  sampler: first_n\n"
      "num_fewshot: 2\n");
  auto t = eeb::make_task(spec);
  CHECK(t->default_shots() == 2);
  eeb::TaskOptions o;
  o.data_dir = dir.str();
  const auto docs = t->load(o);
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].context == "D four\nQ: one =no|Q: two =yes|Q: four");
  CHECK(docs[0].choices == std::vector<std::string>{" =no", " =yes"});
  CHECK(docs[0].fewshot_ids == std::vector<std::string>{"train:0", "train:1"});
  CHECK(docs[0].gold == 0);
  // The template hash follows the spec's strings.
  const std::string h = eeb::template_hash(*t);
  std::ifstream f(spec);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  text.replace(text.find("Q: {{q}}"), 8, "Q:  {{q}}");
  CHECK(eeb::template_hash(*eeb::parse_task_spec(text, "x.yaml")) != h);
  CHECK(eeb::template_hash(*eeb::parse_task_spec(text, "y.yaml")) ==
        eeb::template_hash(*eeb::parse_task_spec(text, "x.yaml")));
}

TEST_CASE("task specs: bad specs and bad data are one line naming file:line") {
  eeb::testing::TempDir dir;
  dir.write("d/test.jsonl", "{\"q\": \"a\", \"a\": 0}\n{\"q\": \"b\", \"a\": 5}\n{\"a\": 1}\n");
  const std::string base =
      "task: t\ndataset:\n  test: d/test.jsonl\ntest_split: test\ndoc_to_text: \"{{q}}\"\n"
      "doc_to_choice: [\"x\", \"y\"]\ndoc_to_target: a\n";
  auto spec = [&](const std::string& text) { return dir.write("s.yaml", text); };
  const std::string p = dir.str() + "/s.yaml";
  eeb::TaskOptions o;
  o.data_dir = dir.str();
  auto load_all = [&](const std::string& text, int limit = 0) {
    o.limit = limit;
    return eeb::make_task(spec(text))->load(o);
  };
  require_error([&] { eeb::make_task(spec("task: t\ndataset: {test: d/test.jsonl}\ntest_split: test\n")); },
                {p + ":1", "missing key 'doc_to_text'"});
  require_error([&] { eeb::make_task(spec(base + "fewshot_config:\n  sampler: balanced\n")); },
                {p + ":9", "unknown fewshot sampler 'balanced'"});
  require_error([&] { eeb::make_task(spec(base + "metric_list:\n  - metric: f1\n")); },
                {p + ":9", "unknown metric 'f1'"});
  require_error([&] { eeb::make_task(spec(base + "process_docs: x\n")); },
                {p + ":8", "unknown key 'process_docs'", "Python functions"});
  require_error([&] { eeb::make_task(spec(base + "description: \"{% macro m() %}\"\n")); },
                {p + ":8", "description", "unsupported construct: '{% macro %}'"});
  require_error([&] { eeb::make_task(spec(base + "fewshot_split: train\n")); },
                {p + ":8", "split 'train' is not in dataset"});
  require_error([&] { eeb::make_task(spec("task: [unclosed\n")); }, {p + ":", "YAML"});
  // Template referring to a missing field: the spec line and the data line.
  std::string missing = base;
  missing.replace(missing.find("{{q}}"), 5, "{{nope}}");
  require_error([&] { load_all(missing); }, {p + ":5", "'nope' is undefined", dir.str() + "/d/test.jsonl:1"});
  // Out-of-range target (row 2), data row missing a field (row 3).
  require_error([&] { load_all(base); }, {p + ":7", "target 5 out of range for 2 choices", "d/test.jsonl:2"});
  std::string fixed = "{\"q\": \"a\", \"a\": 0}\n{\"q\": \"b\", \"a\": 1}\n{\"a\": 1}\n";
  dir.write("d/test.jsonl", fixed);
  require_error([&] { load_all(base); }, {p + ":5", "'q' is undefined", "d/test.jsonl:3"});
  CHECK(load_all(base, 2).size() == 2);
  std::string letter = base;
  letter.replace(letter.find("doc_to_target: a"), 16, "doc_to_target: \"{{q}}\"");
  require_error([&] { load_all(letter, 1); }, {p + ":7", "'a' is not one of the choices"});
  dir.write("d/test.jsonl", "{\"q\": \"a\", \"a\": 0}\nnot json\n");
  require_error([&] { load_all(base); }, {dir.str() + "/d/test.jsonl:2", "not a JSON object"});
  require_error([&] { eeb::make_task(dir.str() + "/none.yaml"); }, {"none.yaml", "file not found"});
  dir.write("d/test.jsonl", fixed);
  o.limit = 0;
  o.shots = 9;
  require_error([&] { eeb::make_task(spec(base))->load(o); }, {dir.str() + "/d/test.jsonl", "3 documents for 9 shots"});
}

TEST_CASE("task specs: partial-scoring requests tokenized as lm-eval's _encode_pair, per choice") {
  SKIP_WITHOUT_DATA();
  const auto tok = eeb::Tokenizer::from_file(eeb::testing::shared_data() + "/models/sst-lm-12L/tokenizer.model");
  const auto docs = load("wsc273", 5);
  for (const auto& d : docs) {
    const auto r = eeb::make_request(d, 0, *tok);
    REQUIRE(r.continuations.size() == 2);
    REQUIRE(r.unscored.size() == 2);
    for (size_t c = 0; c < 2; ++c) {
      // Independent: BOS + encode(ctx) + encode(ctx + cont)[len(encode(ctx)):], no trailing spaces in ctx.
      const std::string ctx = d.choice_contexts[c];
      REQUIRE(ctx.back() != ' ');
      const auto ce = tok->encode(ctx), whole = tok->encode(ctx + d.choices[c]);
      std::vector<int32_t> full = {static_cast<int32_t>(tok->bos())};
      full.insert(full.end(), ce.begin(), ce.end());
      const size_t ctx_len = full.size();
      full.insert(full.end(), whole.begin() + static_cast<std::ptrdiff_t>(ce.size()), whole.end());
      std::vector<int32_t> got = r.context;
      got.insert(got.end(), r.continuations[c].begin(), r.continuations[c].end());
      CHECK(got == full);
      CHECK(r.context.size() + static_cast<size_t>(r.unscored[c]) == ctx_len);
    }
  }
}
