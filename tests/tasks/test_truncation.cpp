// Over-long requests (issue 10, defect 7): make_request left-truncates as lm-eval's
// HFLM._loglikelihood_tokens does, checked against that formula written out here on the sst-lm-12L
// tokenizer, and records how many context tokens it dropped.
#include <algorithm>
#include <string>
#include <vector>

#include "tasks/task.h"
#include "tests/tasks/task_test_util.h"
#include "tests/test_data.h"
#include "tokenizer/tokenizer.h"

using eeb::testing::require_error;

namespace {

using Tokens = std::vector<int32_t>;

// lm-eval: inp = (context_enc + continuation_enc)[-(max_length + 1):][:-1]
Tokens lm_eval_input(const Tokens& context_enc, const Tokens& continuation_enc, int max_length) {
  Tokens whole = context_enc;
  whole.insert(whole.end(), continuation_enc.begin(), continuation_enc.end());
  const auto n = static_cast<std::ptrdiff_t>(whole.size());
  const std::ptrdiff_t start = std::max<std::ptrdiff_t>(0, n - (max_length + 1));  // Python's [-k:]
  return Tokens(whole.begin() + start, whole.end() - 1);                            // [:-1]
}

// What eebench's model sees for choice c: the (truncated) context, then the continuation minus its
// last token (which is only predicted).
Tokens eebench_input(const eeb::Request& r, size_t c) {
  Tokens in = r.context;
  in.insert(in.end(), r.continuations[c].begin(), r.continuations[c].end() - 1);
  return in;
}

using eeb::testing::doc;

std::unique_ptr<eeb::Tokenizer> sst_tokenizer() {
  return eeb::Tokenizer::from_file(eeb::testing::shared_data() + "/models/sst-lm-12L/tokenizer.model");
}

const char* kContext =
    "the film is strictly routine , and the actors seem to know it , which makes the long middle "
    "hour a slog .\nQuestion: Is this sentence positive or negative?\nAnswer:";

}  // namespace

TEST_CASE("truncation: every max_length gives lm-eval's input, continuation whole") {
  SKIP_WITHOUT_DATA();
  auto tok = sst_tokenizer();
  const auto d = doc(kContext, {" negative", " positive"});
  const auto full = eeb::make_request(d, 0, *tok, true);  // no limit
  CHECK(full.truncated_tokens == 0);
  REQUIRE(full.continuations[0].size() == full.continuations[1].size());
  const int k = static_cast<int>(full.continuations[0].size());
  const int n = static_cast<int>(full.context.size());
  REQUIRE(n > 20);
  int truncated_cases = 0;
  for (int max_length = k; max_length <= n + k + 3; ++max_length) {
    INFO("max_length " << max_length);
    const auto r = eeb::make_request(d, 0, *tok, true, max_length);
    CHECK(r.continuations == full.continuations);  // kept whole
    for (size_t c = 0; c < d.choices.size(); ++c) {
      const Tokens want = lm_eval_input(full.context, full.continuations[c], max_length);
      CHECK(eebench_input(r, c) == want);
      CHECK(static_cast<int>(want.size()) <= max_length);
    }
    // The dropped tokens are the context's first ones; the count is what went missing.
    CHECK(r.truncated_tokens == n - static_cast<int>(r.context.size()));
    CHECK(std::equal(r.context.begin(), r.context.end(), full.context.end() - r.context.size()));
    CHECK(r.context.size() >= 1);
    if (max_length >= n + k - 1) CHECK(r.truncated_tokens == 0);  // fits: bit-identical request
    truncated_cases += r.truncated_tokens > 0;
  }
  CHECK(truncated_cases == n - 1);  // max_length k .. n + k - 2
}

TEST_CASE("truncation: a continuation longer than the model is an error") {
  SKIP_WITHOUT_DATA();
  auto tok = sst_tokenizer();
  const auto d = doc("Answer:", {" yes", " a much longer answer than the model can hold"});
  const auto full = eeb::make_request(d, 0, *tok, true);
  const int k1 = static_cast<int>(full.continuations[1].size());
  REQUIRE(k1 > 3);
  require_error([&] { eeb::make_request(d, 0, *tok, true, k1 - 1); },
                {"document t:0", "choice 1", "more than the model's " + std::to_string(k1 - 1)});
  require_error([&] { eeb::make_request(d, 0, *tok, true, -1); }, {"max_length -1"});
  CHECK_NOTHROW(eeb::make_request(d, 0, *tok, true, k1));
}

TEST_CASE("truncation: unequal choices share the context lm-eval gives the longest") {
  SKIP_WITHOUT_DATA();
  auto tok = sst_tokenizer();
  const auto d = doc(kContext, {" no", " not at all, it is negative"});
  const auto full = eeb::make_request(d, 0, *tok, true);
  const size_t k0 = full.continuations[0].size(), k1 = full.continuations[1].size();
  REQUIRE(k1 > k0);
  const int max_length = static_cast<int>(full.context.size()) / 2 + static_cast<int>(k1);
  const auto r = eeb::make_request(d, 0, *tok, true, max_length);
  CHECK(eebench_input(r, 1) == lm_eval_input(full.context, full.continuations[1], max_length));
  // The shorter choice: lm-eval's input for it ends with eebench's (one shared context).
  const Tokens short_lm = lm_eval_input(full.context, full.continuations[0], max_length);
  const Tokens short_ee = eebench_input(r, 0);
  REQUIRE(short_ee.size() <= short_lm.size());
  CHECK(std::equal(short_ee.begin(), short_ee.end(), short_lm.end() - short_ee.size()));
  CHECK(r.truncated_tokens == static_cast<int>(full.context.size() + k1) - (max_length + 1));
}

TEST_CASE("request: context text and few-shot ids travel to the request") {
  SKIP_WITHOUT_DATA();
  auto tok = sst_tokenizer();
  auto d = doc(kContext, {" negative", " positive"});
  d.fewshot_ids = {"train:4", "train:1"};
  const auto r = eeb::make_request(d, 3, *tok, true);
  CHECK(r.context_text == kContext);
  CHECK(r.fewshot_ids == d.fewshot_ids);
  CHECK(r.truncated_tokens == 0);
}
