// The run-spec reader (harness/spec_file.cpp, toml++ underneath): the input is a spec file's text.
// Bad specs must be one-line eeb::Errors naming the file and line; a valid one expands to trials.
#include "fuzz/fuzz_util.h"
#include "harness/spec_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace eeb;
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_only_errors([&] {
    RunSpec s = parse_spec(text, "fuzz.toml", "/base", RunArgs{}, {});
    if (s.trials.empty()) std::abort();  // an expansion with no trials must have been an error
    (void)RunSpec::from_json(s.to_json());
  });
  return 0;
}
