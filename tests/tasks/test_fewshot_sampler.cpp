// lm-eval's default few-shot sampler: PyRandom against CPython's random module, run by the test
// (skipped when python3 is absent), and SST-2's few-shot examples against lm-eval's recipe in Python.
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "tasks/fewshot_sampler.h"
#include "tasks/task.h"
#include "tests/tasks/task_test_util.h"
#include "tests/test_data.h"

namespace {

bool have_python() { return std::system("command -v python3 >/dev/null 2>&1") == 0; }

#define SKIP_WITHOUT_PYTHON()                         \
  do {                                                \
    if (!have_python()) {                             \
      WARN("SKIPPED: python3 not found");             \
      return;                                         \
    }                                                 \
  } while (0)

// Runs python3 on `code` and returns its stdout.
std::string python(const std::string& code) {
  eeb::testing::TempDir dir;
  const std::string script = dir.write("t.py", code);
  FILE* p = ::popen(("python3 " + script).c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  REQUIRE(::pclose(p) == 0);
  return out;
}

// Whitespace-separated unsigned integers.
std::vector<unsigned long long> numbers(const std::string& s) {
  std::istringstream in(s);
  std::vector<unsigned long long> v;
  unsigned long long x;
  while (in >> x) v.push_back(x);
  return v;
}

}  // namespace

TEST_CASE("fewshot sampler: MT19937 seeding and getrandbits match CPython") {
  SKIP_WITHOUT_PYTHON();
  for (unsigned long long seed : {0ULL, 1ULL, 1234ULL, 4294967295ULL, 4294967296ULL, 123456789012345ULL}) {
    INFO("seed " << seed);
    const auto want = numbers(python(
        "import random\nr = random.Random(" + std::to_string(seed) + ")\n"
        "print(*[r.getrandbits(32) for _ in range(700)])\n"
        "print(*[r.getrandbits(k) for k in (1, 5, 17, 31, 32, 33, 48, 63, 64, 0)])\n"));
    REQUIRE(want.size() == 710);
    eeb::PyRandom r(seed);
    for (size_t i = 0; i < 700; ++i) REQUIRE(r.getrandbits(32) == want[i]);
    size_t i = 700;
    for (int k : {1, 5, 17, 31, 32, 33, 48, 63, 64, 0}) CHECK(r.getrandbits(k) == want[i++]);
  }
}

TEST_CASE("fewshot sampler: randbelow and both sample() algorithms match CPython") {
  SKIP_WITHOUT_PYTHON();
  // (n, k) pairs crossing CPython's setsize rule: pool method when n <= setsize, set method above.
  const std::vector<std::pair<size_t, size_t>> cases = {
      {1, 1}, {2, 2}, {5, 3}, {21, 5}, {22, 5}, {30, 6}, {85, 6}, {86, 6}, {100, 20},
      {277, 50}, {1000, 999}, {67349, 3}, {67349, 6}, {67349, 26}};
  std::string code = "import random\nr = random.Random(1234)\n"
                     "print(*[r._randbelow(n) for n in (1, 2, 3, 7, 8, 1000, 67349, 2**40 + 3)])\n";
  for (auto [n, k] : cases)
    code += "for _ in range(3): print(*r.sample(range(" + std::to_string(n) + "), " + std::to_string(k) + "))\n";
  std::istringstream lines(python(code));
  std::string line;
  eeb::PyRandom r(1234);
  std::getline(lines, line);
  const auto rb = numbers(line);
  REQUIRE(rb.size() == 8);
  size_t i = 0;
  for (unsigned long long n : {1ULL, 2ULL, 3ULL, 7ULL, 8ULL, 1000ULL, 67349ULL, (1ULL << 40) + 3})
    CHECK(r.randbelow(n) == rb[i++]);
  for (auto [n, k] : cases)
    for (int rep = 0; rep < 3; ++rep) {
      INFO("sample(range(" << n << "), " << k << ") #" << rep);
      REQUIRE(std::getline(lines, line));
      const auto want = numbers(line);
      const auto got = r.sample(n, k);
      REQUIRE(got.size() == want.size());
      for (size_t j = 0; j < got.size(); ++j) CHECK(got[j] == want[j]);
    }
  eeb::testing::require_error([&] { r.sample(3, 4); }, {"sample", "population of 3"});
}

TEST_CASE("fewshot sampler: drop-the-document-and-cut as lm-eval's ContextSampler") {
  eeb::PyRandom a(1234), b(1234);
  // first_n, same split: k + 1 drawn, the evaluated doc (index 1) dropped.
  const auto f = eeb::draw_fewshot(eeb::FewshotSampler::first_n, a, 10, 3, true,
                                   [](size_t j) { return j == 1; });
  CHECK(f == std::vector<size_t>{0, 2, 3});
  // default: the same draws as sample(n, k + 1), minus the document, first k.
  const auto drawn = b.sample(50, 4);
  const auto d = eeb::draw_fewshot(eeb::FewshotSampler::default_, a, 50, 3, true,
                                   [&](size_t j) { return j == drawn[0]; });
  CHECK(d == std::vector<size_t>{drawn[1], drawn[2], drawn[3]});
  CHECK(eeb::draw_fewshot(eeb::FewshotSampler::default_, a, 50, 0, true, [](size_t) { return false; }).empty());
  eeb::testing::require_error(
      [&] { eeb::draw_fewshot(eeb::FewshotSampler::first_n, a, 3, 3, true, [](size_t) { return false; }); },
      {"4 examples wanted", "has 3"});
  eeb::testing::require_error([] { eeb::parse_fewshot_sampler("balanced", "t.yaml:3"); },
                              {"t.yaml:3", "unknown fewshot sampler 'balanced'"});
}

TEST_CASE("fewshot sampler: sst2 --shots k picks lm-eval's examples") {
  SKIP_WITHOUT_DATA();
  SKIP_WITHOUT_PYTHON();
  const std::string data = eeb::testing::shared_data() + "/datasets";
  auto task = eeb::make_task("sst2");
  for (int shots : {1, 5, 8}) {
    eeb::TaskOptions o;
    o.data_dir = data;
    o.shots = shots;
    o.limit = 40;
    const auto docs = task->load(o);
    REQUIRE(docs.size() == 40);
    // lm-eval: one Random(1234) for the task; per document sample(train_docs, k + 1) (glue/sst2 sets
    // neither fewshot_split nor test_split, so they compare equal), drop the doc itself, keep k.
    const auto want = numbers(python(
        "import random\nr = random.Random(1234)\nn = sum(1 for _ in open('" + data +
        "/sst2/train.tsv')) - 1\nassert n == 67349\n"
        "for _ in range(40): print(*r.sample(range(n), " + std::to_string(shots + 1) + ")[:" +
        std::to_string(shots) + "])\n"));
    REQUIRE(want.size() == static_cast<size_t>(40 * shots));
    for (size_t i = 0; i < docs.size(); ++i) {
      REQUIRE(docs[i].fewshot_ids.size() == static_cast<size_t>(shots));
      for (int k = 0; k < shots; ++k)
        CHECK(docs[i].fewshot_ids[k] == "train:" + std::to_string(want[i * shots + k]));
    }
  }
  // 0 shots: no examples, no draws.
  eeb::TaskOptions o;
  o.data_dir = data;
  o.limit = 3;
  for (const auto& d : task->load(o)) CHECK(d.fewshot_ids.empty());
}
