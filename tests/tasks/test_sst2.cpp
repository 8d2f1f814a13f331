// SST-2 (tasks/specs/sst2.yaml): the GLUE dev file through the task, compared with a plain
// line-by-line reading in the test.
#include <fstream>
#include <string>
#include <vector>

#include "tasks/task.h"
#include "tests/tasks/task_test_util.h"
#include "tests/test_data.h"

using eeb::testing::require_error;

namespace {

const char* kQ = "\nQuestion: Is this sentence positive or negative?\nAnswer:";

struct Line { std::string sentence; int label; };

// Independent reading: split each line at its last tab.
std::vector<Line> raw_lines(const std::string& path) {
  std::ifstream in(path);
  std::string l;
  std::getline(in, l);  // header
  std::vector<Line> out;
  while (std::getline(in, l)) {
    const auto tab = l.rfind('\t');
    out.push_back({l.substr(0, tab), std::stoi(l.substr(tab + 1))});
  }
  return out;
}

eeb::TaskOptions opts(const std::string& dir) {
  eeb::TaskOptions o;
  o.data_dir = dir;
  return o;
}

}  // namespace

TEST_CASE("sst2: GLUE dev has 872 documents, sentences kept byte for byte") {
  SKIP_WITHOUT_DATA();
  const std::string data = eeb::testing::shared_data() + "/datasets";
  auto task = eeb::make_task("sst2");
  CHECK(task->name() == "sst2");
  CHECK(task->version() == "1.0");
  CHECK(task->default_split() == "dev");
  CHECK(task->default_shots() == 0);
  const auto docs = task->load(opts(data));
  const auto raw = raw_lines(data + "/sst2/dev.tsv");
  REQUIRE(docs.size() == 872);
  REQUIRE(raw.size() == 872);
  int pos = 0, neg = 0;
  for (size_t i = 0; i < docs.size(); ++i) {
    const auto& d = docs[i];
    CHECK(d.id == "dev:" + std::to_string(i));
    CHECK(d.group.empty());
    CHECK(d.context == raw[i].sentence + kQ);
    CHECK(d.choices == std::vector<std::string>{" negative", " positive"});
    CHECK(d.gold == raw[i].label);
    (d.gold == 1 ? pos : neg)++;
  }
  CHECK(pos == 444);
  CHECK(neg == 428);
  // GLUE's trailing space stays in the prompt.
  CHECK(docs[0].context ==
        "it 's a charming and often affecting journey . \nQuestion: Is this sentence positive or "
        "negative?\nAnswer:");
  CHECK(docs[0].gold == 1);
}

TEST_CASE("sst2: split names, limit, few-shot prefix from train") {
  SKIP_WITHOUT_DATA();
  const std::string data = eeb::testing::shared_data() + "/datasets";
  auto task = eeb::make_task("sst2");
  auto o = opts(data);
  o.split = "validation";
  o.limit = 5;
  const auto docs = task->load(o);
  REQUIRE(docs.size() == 5);
  CHECK(docs[4].id == "dev:4");

  o.split = "";
  o.limit = 3;
  o.shots = 2;
  const auto fs = task->load(o);
  const auto train = raw_lines(data + "/sst2/train.tsv");
  const auto dev = raw_lines(data + "/sst2/dev.tsv");
  const char* answer[] = {"negative", "positive"};
  REQUIRE(fs.size() == 3);
  // Which train examples: lm-eval's seeded sampler, checked against Python in test_fewshot_sampler.cpp.
  for (size_t i = 0; i < fs.size(); ++i) {
    REQUIRE(fs[i].fewshot_ids.size() == 2);
    std::string expected;
    for (const auto& id : fs[i].fewshot_ids) {
      const auto& ex = train.at(std::stoul(id.substr(id.find(':') + 1)));
      expected += ex.sentence + kQ + " " + answer[ex.label] + "\n\n";
    }
    expected += dev[i].sentence + kQ;
    CHECK(fs[i].context == expected);
  }

  o.split = "nonsense";
  require_error([&] { task->load(o); }, {"sst2.yaml: unknown split 'nonsense'", "validation (= dev)"});
}

TEST_CASE("sst2: test_labeled has the labels SOURCES.md gives") {
  SKIP_WITHOUT_DATA();
  auto task = eeb::make_task("sst2");
  auto o = opts(eeb::testing::shared_data() + "/datasets");
  o.split = "test_labeled";
  // shared/data/SOURCES.md: 1,821 sentences, 912 negative / 909 positive; gold follows each line.
  const auto docs = task->load(o);
  const auto lines = raw_lines(eeb::testing::shared_data() + "/datasets/sst2/test_labeled.tsv");
  REQUIRE(docs.size() == 1821);
  REQUIRE(lines.size() == docs.size());
  int negative = 0, positive = 0, agree = 0;
  for (size_t i = 0; i < docs.size(); ++i) {
    negative += docs[i].gold == 0;
    positive += docs[i].gold == 1;
    agree += docs[i].gold == lines[i].label && docs[i].context == lines[i].sentence + kQ;
  }
  CHECK(negative == 912);
  CHECK(positive == 909);
  CHECK(agree == 1821);
}

TEST_CASE("sst2: malformed files") {
  eeb::testing::TempDir dir;
  auto task = eeb::make_task("sst2");
  const auto o = opts(dir.str());
  require_error([&] { task->load(o); }, {dir.str() + "/sst2/dev.tsv", "file not found"});

  // Row problems name the spec's line and the document's file:line.
  const std::string p = dir.write("sst2/dev.tsv", "sentence\tlabel\ngood film \t1\nbad film \t2\n");
  require_error([&] { task->load(o); }, {"sst2.yaml:", "target 2 out of range", "(document " + p + ":3)"});
  dir.write("sst2/dev.tsv", "sentence\tlabel\ngood film \t1\nbad film \tyes\n");
  require_error([&] { task->load(o); }, {"sst2.yaml:", "'yes' is not one of the choices", "(document " + p + ":3)"});
  dir.write("sst2/dev.tsv", "sentence\tlabel\ngood film \t1\nbad film\n");
  require_error([&] { task->load(o); }, {p + ":3: ", "expected 2 fields"});
  dir.write("sst2/dev.tsv", "text\tlabel\ngood film \t1\n");
  require_error([&] { task->load(o); }, {"sst2.yaml:", "sentence", "(document " + p + ":2)"});
  dir.write("sst2/dev.tsv", "sentence\tlabel\n");
  require_error([&] { task->load(o); }, {p + ": no documents"});
  dir.write("sst2/dev.tsv", "");
  require_error([&] { task->load(o); }, {p + ": empty file"});

  dir.write("sst2/dev.tsv", "sentence\tlabel\n\"quoted\" , text \t0\n");
  const auto docs = task->load(o);
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].context == std::string("\"quoted\" , text ") + kQ);
  auto with_shots = o;
  with_shots.shots = 1;
  require_error([&] { task->load(with_shots); }, {dir.str() + "/sst2/train.tsv", "file not found"});
  eeb::TaskOptions no_dir;
  require_error([&] { task->load(no_dir); }, {"no data directory"});
}
