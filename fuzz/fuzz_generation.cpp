// The generation task readers (JSONL, tasks/generation.cpp): the input is each task's test.jsonl.
#include "fuzz/fuzz_util.h"
#include "tasks/task.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace eeb;
  const auto dir = fuzz::scratch() / "data";
  for (const char* name : {"prompts", "cnn_dailymail", "xsum"}) {
    fuzz::write_file(dir / name / "test.jsonl", data, size);
    TaskOptions to;
    to.data_dir = dir.string();
    fuzz::expect_only_errors([&] { make_task(name)->load(to); });
  }
  return 0;
}
