// Registry, template hashes and lm-eval's context/continuation split (make_request), checked on the
// sst-lm-12L tokenizer against encode(ctx + cont)[len(encode(ctx)):] computed here.
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tasks/task.h"
#include "tests/tasks/task_test_util.h"
#include "tests/test_data.h"

using eeb::testing::require_error;

namespace {

std::vector<int32_t> tail_after(const std::vector<int>& whole, size_t n) {
  return std::vector<int32_t>(whole.begin() + static_cast<std::ptrdiff_t>(n), whole.end());
}

std::unique_ptr<eeb::Tokenizer> sst_tokenizer() {
  return eeb::Tokenizer::from_file(eeb::testing::shared_data() + "/models/sst-lm-12L/tokenizer.model");
}

using eeb::testing::doc;

}  // namespace

TEST_CASE("registry: known tasks, unknown names, template hashes") {
  const auto tasks = eeb::list_tasks();
  REQUIRE(tasks.size() >= 2);
  CHECK(tasks[0].name == "sst2");
  CHECK(tasks[1].name == "mmlu");
  for (const auto& t : tasks) {
    CHECK(!t.description.empty());
    CHECK(eeb::make_task(t.name)->name() == t.name);
  }
  require_error([] { eeb::make_task("hellaswag"); }, {"unknown task 'hellaswag'", "sst2", "mmlu"});

  const auto h1 = eeb::template_hash(*eeb::make_task("sst2"));
  const auto h2 = eeb::template_hash(*eeb::make_task("mmlu"));
  CHECK(h1.size() == 16);
  CHECK(h1.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(h1 == eeb::template_hash(*eeb::make_task("sst2")));
  CHECK(h1 != h2);
  CHECK(eeb::make_task("sst2")->template_text().find(
            "{{sentence}}\nQuestion: Is this sentence positive or negative?\nAnswer:") != std::string::npos);
}

TEST_CASE("make_request: continuation = encode(ctx + cont) minus encode(ctx), BOS first") {
  SKIP_WITHOUT_DATA();
  auto tok = sst_tokenizer();
  const std::string ctx =
      "it 's a charming and often affecting journey . \nQuestion: Is this sentence positive or negative?\nAnswer:";
  const auto d = doc(ctx, {" negative", " positive"});
  const auto r = eeb::make_request(d, 7, *tok, true);
  CHECK(r.index == 7);
  CHECK(r.doc == &d);
  const std::vector<int> c = tok->encode(ctx);
  std::vector<int32_t> expected_ctx{1};
  expected_ctx.insert(expected_ctx.end(), c.begin(), c.end());
  CHECK(r.context == expected_ctx);
  REQUIRE(r.continuations.size() == 2);
  CHECK(r.continuations[0] == tail_after(tok->encode(ctx + " negative"), c.size()));
  CHECK(r.continuations[1] == tail_after(tok->encode(ctx + " positive"), c.size()));
  for (const auto& cont : r.continuations) CHECK(!cont.empty());
  // Tokens of the whole text = context tokens followed by the continuation.
  std::vector<int32_t> joined(r.context.begin() + 1, r.context.end());
  joined.insert(joined.end(), r.continuations[1].begin(), r.continuations[1].end());
  const auto whole = tok->encode(ctx + " positive");
  CHECK(joined == std::vector<int32_t>(whole.begin(), whole.end()));

  const auto nobos = eeb::make_request(d, 0, *tok, false);
  CHECK(nobos.context == std::vector<int32_t>(c.begin(), c.end()));
  CHECK(nobos.continuations == r.continuations);
}

TEST_CASE("make_request: trailing whitespace of the context moves onto the continuation") {
  SKIP_WITHOUT_DATA();
  auto tok = sst_tokenizer();
  // lm-eval: n_spaces = len(context) - len(context.rstrip()); all trailing whitespace moves, "\n" too.
  struct Case { std::string context, choice, kept, moved; };
  const std::vector<Case> cases = {
      {"Answer: ", "positive", "Answer:", " "},
      {"Answer:  \n", "negative", "Answer:", "  \n"},
      {"Review:\n\n", "great fun", "Review:", "\n\n"},
      {"tab\t", "x", "tab", "\t"},
      {"ideographic\xE3\x80\x80", "y", "ideographic", "\xE3\x80\x80"},  // U+3000 is str.isspace()
      {"Answer:", " positive", "Answer:", ""},
  };
  for (const auto& c : cases) {
    INFO("context: \"" << c.context << "\"");
    const auto r = eeb::make_request(doc(c.context, {c.choice}), 0, *tok, true);
    const auto kept = tok->encode(c.kept);
    std::vector<int32_t> expected_ctx{static_cast<int32_t>(tok->bos())};
    expected_ctx.insert(expected_ctx.end(), kept.begin(), kept.end());
    CHECK(r.context == expected_ctx);
    CHECK(r.continuations.at(0) == tail_after(tok->encode(c.kept + c.moved + c.choice), kept.size()));
  }
  // The moved space is what makes "Answer: " + "positive" score like "Answer:" + " positive".
  const auto a = eeb::make_request(doc("Answer: ", {"positive"}), 0, *tok, true);
  const auto b = eeb::make_request(doc("Answer:", {" positive"}), 0, *tok, true);
  CHECK(a.context == b.context);
  CHECK(a.continuations == b.continuations);
}

TEST_CASE("make_request: empty continuations and contexts are errors") {
  SKIP_WITHOUT_DATA();
  auto tok = sst_tokenizer();
  require_error([&] { eeb::make_request(doc("Answer:", {" yes", ""}), 0, *tok, true); },
                {"document t:0", "choice 1", "no tokens"});
  // sst-lm-12L's normalizer drops extra spaces, so a lone space adds no token.
  require_error([&] { eeb::make_request(doc("Answer:", {" "}), 0, *tok, true); }, {"choice 0"});
  require_error([&] { eeb::make_request(doc("Answer:", {}), 0, *tok, true); }, {"no choices"});
  require_error([&] { eeb::make_request(doc("", {" yes"}), 0, *tok, false); }, {"empty context"});
  const auto r = eeb::make_request(doc("", {" yes"}), 0, *tok, true);
  CHECK(r.context == std::vector<int32_t>{1});
  const auto yes = tok->encode(" yes");
  CHECK(r.continuations.at(0) == std::vector<int32_t>(yes.begin(), yes.end()));
}
