// acc_norm as lm-eval computes it (issue 10, defect 9): log-likelihood divided by len(choice), the
// choice without target_delimiter, len() counting characters (code points), not UTF-8 bytes.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "strategies/scoring.h"
#include "tasks/task.h"

using namespace eeb;

namespace {

// lm-eval: pred_norm = np.argmax(lls / completion_len), completion_len = [len(c) for c in choices]
int lm_eval_pred_norm(const std::vector<double>& ll, const std::vector<double>& completion_len) {
  int best = 0;
  for (size_t i = 1; i < ll.size(); ++i)
    if (ll[i] / completion_len[i] > ll[best] / completion_len[best]) best = static_cast<int>(i);
  return best;
}

}  // namespace

TEST_CASE("acc_norm divides by the choice's characters, not the continuation's bytes", "[scoring]") {
  Doc d;
  d.target_delimiter = " ";
  d.choices = {" \xC3\xA9t\xC3\xA9", " abcd"};  // " été" (3 characters, 5 bytes + 1), " abcd" (4)
  const std::vector<double> ll = {-3.3, -4.0};
  const int want = lm_eval_pred_norm(ll, {3.0, 4.0});  // -1.1 vs -1.0
  REQUIRE(want == 1);
  CHECK(argmax_choice_norm(ll, d) == want);
  CHECK(argmax_choice_norm(ll, d.choices) == want);  // default delimiter " "
  // The old definition (bytes of " " + choice: 6 and 5) picked choice 0; make sure it would differ.
  CHECK(lm_eval_pred_norm(ll, {6.0, 5.0}) == 0);

  CHECK(utf8_chars("") == 0);
  CHECK(utf8_chars("abc") == 3);
  CHECK(utf8_chars("\xC3\xA9t\xC3\xA9") == 3);
  CHECK(utf8_chars("\xE2\x82\xAC\xF0\x9F\x98\x80") == 2);  // a 3-byte and a 4-byte code point
}

TEST_CASE("acc_norm strips the task's own target_delimiter", "[scoring]") {
  Doc d;
  d.target_delimiter = "\n";
  d.choices = {"\nab", "\nabcde"};  // choices "ab" (2) and "abcde" (5)
  const std::vector<double> ll = {-2.2, -5.0};
  const int want = lm_eval_pred_norm(ll, {2.0, 5.0});  // -1.1 vs -1.0
  REQUIRE(want == 1);
  CHECK(argmax_choice_norm(ll, d) == want);
  // Counting the delimiter ("\nab" = 3, "\nabcde" = 6: -0.733 vs -0.833) would pick choice 0.
  CHECK(lm_eval_pred_norm(ll, {3.0, 6.0}) == 0);
  CHECK(argmax_choice_norm({}, d) == -1);
}
