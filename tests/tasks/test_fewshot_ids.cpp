// --log-samples (issue 10, defect 9): each document names the few-shot documents in its prompt, and
// those documents' own text + answer make up the prompt's examples, in order. Written so it holds for
// any sampler (SST-2's sampler is being replaced by lm-eval's seeded one).
#include <map>
#include <string>
#include <vector>

#include "tasks/task.h"
#include "tests/tasks/task_test_util.h"

using eeb::testing::TempDir;

namespace {

eeb::TaskOptions opts(const std::string& dir, int shots, const std::string& split = "") {
  eeb::TaskOptions o;
  o.data_dir = dir;
  o.shots = shots;
  o.split = split;
  return o;
}

// The example block lm-eval renders for a document: its prompt, " " + answer, "\n\n".
std::string block(const std::string& prompt, const std::string& answer) {
  return prompt + " " + answer + "\n\n";
}

}  // namespace

TEST_CASE("sst2: few-shot ids name the examples in the prompt") {
  TempDir d;
  const std::vector<std::pair<std::string, int>> train = {
      {"great fun", 1}, {"dull", 0}, {"a mess", 0}, {"lovely", 1}, {"great fun", 1}};
  std::string tsv = "sentence\tlabel\n";
  for (const auto& [s, l] : train) tsv += s + "\t" + std::to_string(l) + "\n";
  d.write("sst2/train.tsv", tsv);
  d.write("sst2/dev.tsv", "sentence\tlabel\nsome film\t1\nanother film\t0\n");
  const std::string q = "\nQuestion: Is this sentence positive or negative?\nAnswer:";
  const char* answer[] = {"negative", "positive"};
  std::map<std::string, std::string> by_id;
  for (size_t j = 0; j < train.size(); ++j)
    by_id["train:" + std::to_string(j)] = block(train[j].first + q, answer[train[j].second]);

  auto task = eeb::make_task("sst2");
  for (const std::string split : {"dev", "train"}) {
    INFO("split " << split);
    const auto docs = task->load(opts(d.str(), 3, split));
    REQUIRE(!docs.empty());
    for (const auto& doc : docs) {
      INFO(doc.id);
      REQUIRE(doc.fewshot_ids.size() == 3);
      std::string examples;
      for (const auto& id : doc.fewshot_ids) {
        REQUIRE(by_id.count(id));
        CHECK(id != doc.id);  // never the document itself
        examples += by_id[id];
      }
      REQUIRE(doc.context.size() > examples.size());
      CHECK(doc.context.substr(0, examples.size()) == examples);
    }
  }
  CHECK(task->load(opts(d.str(), 0, "dev"))[0].fewshot_ids.empty());
}

TEST_CASE("mmlu: few-shot ids are the first dev documents, the document itself left out") {
  TempDir d;
  d.write("mmlu/test/anatomy_test.csv", "question,choice0,choice1,choice2,choice3,answer\nWhat?,a,b,c,d,1\n");
  d.write("mmlu/dev/anatomy_dev.csv",
          "question,choice0,choice1,choice2,choice3,answer\nQ1,a,b,c,d,0\nQ2,e,f,g,h,3\nQ3,i,j,k,l,2\n");
  auto task = eeb::make_task("mmlu");
  const auto docs = task->load(opts(d.str(), 2));
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].fewshot_ids == std::vector<std::string>{"anatomy:dev:0", "anatomy:dev:1"});
  const std::string desc = "The following are multiple choice questions (with answers) about anatomy.\n\n";
  CHECK(docs[0].context.rfind(desc + block("Q1\nA. a\nB. b\nC. c\nD. d\nAnswer:", "A") +
                                  block("Q2\nA. e\nB. f\nC. g\nD. h\nAnswer:", "D"),
                              0) == 0);
  const auto dev = task->load(opts(d.str(), 2, "dev"));
  REQUIRE(dev.size() == 3);
  CHECK(dev[0].fewshot_ids == std::vector<std::string>{"anatomy:dev:1", "anatomy:dev:2"});
  CHECK(dev[1].fewshot_ids == std::vector<std::string>{"anatomy:dev:0", "anatomy:dev:2"});
}
