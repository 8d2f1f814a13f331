// MMLU (tasks/specs/mmlu.yaml, a group of 57 subjects): both file layouts, the lm-eval 5-shot prompt
// text, subject selection, limits and errors.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "tasks/task.h"
#include "tasks/task_spec.h"
#include "tests/tasks/task_test_util.h"
#include "tests/test_data.h"

using eeb::testing::require_error;
using eeb::testing::TempDir;

namespace {

eeb::TaskOptions opts(const std::string& dir, int shots = 0) {
  eeb::TaskOptions o;
  o.data_dir = dir;
  o.shots = shots;
  return o;
}

// The same questions in the Hugging Face export layout (header, answers 0-3) ...
const char* kHeaded =
    "question,choice0,choice1,choice2,choice3,answer\n"
    "What is 2+2?,3,4,5,6,1\n"
    "\"Which, with a comma, and \"\"quotes\"\"?\",\"a, b\",c,\"multi\nline\",d,3\n"
    "  Padded question?  ,x,y,z,w,0\r\n"
    "Last?,p,q,r,s,2";
// ... and in the original headerless layout (answers A-D).
const char* kHeaderless =
    "What is 2+2?,3,4,5,6,B\n"
    "\"Which, with a comma, and \"\"quotes\"\"?\",\"a, b\",c,\"multi\nline\",d,D\n"
    "  Padded question?  ,x,y,z,w,A\n"
    "Last?,p,q,r,s,C\n";

bool same_docs(const std::vector<eeb::Doc>& a, const std::vector<eeb::Doc>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].id != b[i].id || a[i].group != b[i].group || a[i].context != b[i].context ||
        a[i].choices != b[i].choices || a[i].gold != b[i].gold)
      return false;
  return true;
}

}  // namespace

TEST_CASE("mmlu: both layouts give identical documents") {
  TempDir a, b;
  a.write("mmlu/test/college_physics_test.csv", kHeaded);
  b.write("mmlu/test/college_physics_test.csv", kHeaderless);
  auto task = eeb::make_task("mmlu");
  const auto da = task->load(opts(a.str()));
  const auto db = task->load(opts(b.str()));
  REQUIRE(da.size() == 4);
  CHECK(same_docs(da, db));
  const std::string desc = "The following are multiple choice questions (with answers) about college physics.\n\n";
  CHECK(da[0].id == "college_physics:test:0");
  CHECK(da[0].group == "college_physics");
  CHECK(da[0].context == desc + "What is 2+2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:");
  CHECK(da[0].choices == std::vector<std::string>{" A", " B", " C", " D"});
  CHECK(da[0].gold == 1);
  CHECK(da[1].context ==
        desc + "Which, with a comma, and \"quotes\"?\nA. a, b\nB. c\nC. multi\nline\nD. d\nAnswer:");
  CHECK(da[1].gold == 3);
  CHECK(da[2].context == desc + "Padded question?\nA. x\nB. y\nC. z\nD. w\nAnswer:");  // question.strip()
  CHECK(da[3].gold == 2);

  // Layouts are detected per file: a headerless subject next to a headed one.
  a.write("mmlu/test/anatomy_test.csv", kHeaderless);
  const auto mixed = task->load(opts(a.str()));
  REQUIRE(mixed.size() == 8);
  CHECK(mixed[0].group == "anatomy");  // lm-eval's subject order (alphabetical)
  CHECK(mixed[4].group == "college_physics");
}

TEST_CASE("mmlu: few-shot prompt, subjects filter, limit per subject") {
  TempDir d;
  d.write("mmlu/test/anatomy_test.csv", kHeaded);
  d.write("mmlu/test/virology_test.csv", kHeaderless);
  d.write("mmlu/dev/anatomy_dev.csv", "question,choice0,choice1,choice2,choice3,answer\nQ1,a,b,c,d,0\nQ2 ,e,f,g,h,3\n");
  auto task = eeb::make_task("mmlu");
  auto o = opts(d.str(), 2);
  o.subjects = {"anatomy"};
  o.limit = 1;
  const auto docs = task->load(o);
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].context ==
        "The following are multiple choice questions (with answers) about anatomy.\n\n"
        "Q1\nA. a\nB. b\nC. c\nD. d\nAnswer: A\n\n"
        "Q2\nA. e\nB. f\nC. g\nD. h\nAnswer: D\n\n"
        "What is 2+2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:");

  o.shots = 3;
  require_error([&] { task->load(o); }, {d.str() + "/mmlu/dev/anatomy_dev.csv", "2 documents for 3 shots"});
  o.shots = 1;
  o.subjects = {"virology"};
  require_error([&] { task->load(o); }, {d.str() + "/mmlu/dev/virology_dev.csv", "file not found"});
  o.subjects = {"astrology"};
  require_error([&] { task->load(o); }, {"unknown subject 'astrology'"});
  o.subjects = {"astronomy"};
  o.shots = 0;
  require_error([&] { task->load(o); }, {d.str() + "/mmlu/test/astronomy_test.csv", "file not found"});

  o.subjects = {};
  o.limit = 2;
  const auto both = task->load(o);
  REQUIRE(both.size() == 4);
  CHECK(both[1].id == "anatomy:test:1");
  CHECK(both[2].id == "virology:test:0");

  // Evaluating the dev split with dev shots leaves the document itself out of its examples.
  o.split = "dev";
  o.subjects = {"anatomy"};
  o.shots = 1;
  o.limit = 0;
  const auto dev = task->load(o);
  REQUIRE(dev.size() == 2);
  CHECK(dev[0].context.find("Q2\nA. e\nB. f\nC. g\nD. h\nAnswer: D\n\nQ1\n") != std::string::npos);
  CHECK(dev[1].context.find("Q1\nA. a\nB. b\nC. c\nD. d\nAnswer: A\n\nQ2\n") != std::string::npos);

  TempDir empty;
  require_error([&] { task->load(opts(empty.str())); },
                {empty.str() + "/mmlu/test/abstract_algebra_test.csv", "no 'test' file for any of the 57 members"});
}

TEST_CASE("mmlu: bad answers and malformed rows") {
  TempDir d;
  auto task = eeb::make_task("mmlu");
  // The spec's doc_to_target error names the spec line and the document's file:line.
  const std::string p = d.write("mmlu/test/anatomy_test.csv", "Q,a,b,c,d,A\nQ2,a,b,c,d,E\n");
  require_error([&] { task->load(opts(d.str())); }, {"mmlu.yaml:", "'E' is not one of the choices", "(document " + p + ":2)"});
  d.write("mmlu/test/anatomy_test.csv", "question,choice0,choice1,choice2,choice3,answer\nQ,a,b,c,d,4\n");
  require_error([&] { task->load(opts(d.str())); }, {"mmlu.yaml:", "target 4 out of range for 4 choices", "(document " + p + ":2)"});
  d.write("mmlu/test/anatomy_test.csv", "question,choice0,choice1,choice2,choice3,answer\nQ,a,b,c,d,-1\n");
  require_error([&] { task->load(opts(d.str())); }, {"target -1 out of range", "(document " + p + ":2)"});
  // Unlike the C++ task this spec replaced, either answer form is read in either layout.
  d.write("mmlu/test/anatomy_test.csv", "question,choice0,choice1,choice2,choice3,answer\nQ,a,b,c,d,B\n");
  CHECK(task->load(opts(d.str())).at(0).gold == 1);
  d.write("mmlu/test/anatomy_test.csv", "Q,a,b,c,d,A\nQ2,a,b,c,A\n");
  require_error([&] { task->load(opts(d.str())); }, {p + ":2: ", "expected 6 fields, found 5"});
  d.write("mmlu/test/anatomy_test.csv", "Q,a,b,c,d,A\n\"Q2,a,b,c,d,A\n");
  require_error([&] { task->load(opts(d.str())); }, {p + ":2: ", "unterminated quoted field"});
  d.write("mmlu/test/anatomy_test.csv", "question,choice0,choice1,choice2,choice3,answer\n");
  require_error([&] { task->load(opts(d.str())); }, {p + ": no documents"});
  d.write("mmlu/test/anatomy_test.csv", "");
  require_error([&] { task->load(opts(d.str())); }, {p + ": empty file"});
}

TEST_CASE("mmlu: shared data, 57 subjects, 5-shot abstract_algebra prompt") {
  SKIP_WITHOUT_DATA();
  const std::string data = eeb::testing::shared_data() + "/datasets";
  auto task = eeb::make_task("mmlu");
  CHECK(task->default_split() == "test");
  CHECK(task->default_shots() == 0);
  const auto members = eeb::task_group_members(*task);
  REQUIRE(members.size() == 57);
  CHECK(members.front() == "abstract_algebra");
  CHECK(members.back() == "world_religions");
  CHECK(std::is_sorted(members.begin(), members.end()));  // _generate_configs.py's SUBJECTS order
  const auto all = task->load(opts(data));
  CHECK(all.size() == 14042);
  std::map<std::string, int> per_subject;
  for (const auto& d : all) per_subject[d.group]++;
  CHECK(per_subject.size() == 57);
  CHECK(per_subject["abstract_algebra"] == 100);

  auto o = opts(data, 5);
  o.subjects = {"abstract_algebra"};
  o.limit = 1;
  const auto docs = task->load(o);
  REQUIRE(docs.size() == 1);
  const std::string tf = "\nA. True, True\nB. False, False\nC. True, False\nD. False, True\nAnswer: ";
  const std::string expected =
      "The following are multiple choice questions (with answers) about abstract algebra.\n\n"
      "Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.\nA. 0\nB. 1\nC. 2\nD. 3\nAnswer: B\n\n"
      "Statement 1 | If aH is an element of a factor group, then |aH| divides |a|. Statement 2 | If H "
      "and K are subgroups of G then HK is a subgroup of G." + tf + "B\n\n"
      "Statement 1 | Every element of a group generates a cyclic subgroup of the group. Statement 2 | "
      "The symmetric group S_10 has 10 elements." + tf + "C\n\n"
      "Statement 1| Every function from a finite set onto itself must be one to one. Statement 2 | "
      "Every subgroup of an abelian group is abelian." + tf + "A\n\n"
      "Find the characteristic of the ring 2Z.\nA. 0\nB. 3\nC. 12\nD. 30\nAnswer: A\n\n"
      "Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.\n"
      "A. 0\nB. 4\nC. 2\nD. 6\nAnswer:";
  CHECK(docs[0].context == expected);
  CHECK(docs[0].gold == 1);
  CHECK(docs[0].id == "abstract_algebra:test:0");

  // marketing has questions with leading spaces: question.strip() removes them.
  o.subjects = {"marketing"};
  o.shots = 0;
  o.limit = 0;
  const std::string desc = "The following are multiple choice questions (with answers) about marketing.\n\n";
  for (const auto& d : task->load(o)) {
    REQUIRE(d.context.size() > desc.size());
    CHECK(d.context[desc.size()] != ' ');
  }
}
