// The Jinja-subset template evaluator (tasks/template.cpp): the input is a template's source, compiled
// and rendered against a fixed document. A TemplateError (one line) is the expected answer to a bad
// or unsupported template; anything else is a finding.
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_util.h"
#include "tasks/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace eeb;
  static const nlohmann::json doc = nlohmann::json::parse(
      R"({"passage": "P \u00e9.", "question": " is it ", "label": 1, "n": -3, "ok": true, "none": null,
          "choices": {"text": ["a", "b", "c"], "label": ["A", "B", "C"]}, "words": ["x", "y"], "nested": [[1, [2]], {"k": "v"}]})");
  const std::string src(reinterpret_cast<const char*>(data), size);
  try {
    Template t(src);
    (void)t.render(doc);
    (void)t.value(doc);
  } catch (const TemplateError& e) {
    const std::string msg = e.what();
    if (msg.empty() || msg.find('\n') != std::string::npos) {
      std::fprintf(stderr, "TemplateError message is not one line: [%s]\n", msg.c_str());
      std::abort();
    }
  }
  return 0;
}
