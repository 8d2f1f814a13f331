// fewshot_context against the prompt written out by hand from lm-eval's get_context/fewshot_context.
#include <catch2/catch.hpp>

#include "tasks/fewshot_context.h"

using namespace eeb;

TEST_CASE("fewshot_context: description, labelled examples, then the document", "[fewshot]") {
  const std::vector<FewshotExample> ex = {{"Q1\nAnswer:", "yes"}, {"Q2\nAnswer:", "no"}};
  CHECK(fewshot_context("Intro.\n\n", ex, "Q3\nAnswer:", " ", "\n\n") ==
        "Intro.\n\nQ1\nAnswer: yes\n\nQ2\nAnswer: no\n\nQ3\nAnswer:");
  // Other delimiters, no description, no examples.
  CHECK(fewshot_context("", ex, "Q3", "=", "|") == "Q1\nAnswer:=yes|Q2\nAnswer:=no|Q3");
  CHECK(fewshot_context("D ", {}, "Q", " ", "\n\n") == "D Q");
  // Multiple-input tasks have no document text: the prompt ends after the examples.
  CHECK(fewshot_context("", ex, "", " ", "\n\n") == "Q1\nAnswer: yes\n\nQ2\nAnswer: no\n\n");
}

TEST_CASE("fewshot_context: an example with an empty target adds its text without delimiters", "[fewshot]") {
  // lm-eval's ContextSampler.get_context: `if doc_target != "":` guards both delimiters.
  CHECK(fewshot_context("", {{"A", ""}, {"B", "b"}}, "C", " ", "\n\n") == "AB b\n\nC");
}
