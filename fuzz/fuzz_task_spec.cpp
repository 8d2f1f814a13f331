// The task-spec reader (tasks/task_spec.cpp, yaml-cpp underneath, templates via tasks/template.cpp):
// the input is a spec's YAML text; it runs against small fixed data files (JSONL and CSV splits),
// with and without few-shot examples. Bad specs must be one-line eeb::Errors.
#include "fuzz/fuzz_util.h"
#include "tasks/task.h"
#include "tasks/task_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace eeb;
  static const auto dir = [] {
    const auto d = fuzz::scratch() / "spec_data";
    fuzz::write_file(d / "d" / "test.jsonl",
                     "{\"q\": \"one \", \"a\": 0, \"l\": [\"x\", \"y\"], \"c\": {\"text\": [\"p\", \"q\"]}}\n"
                     "{\"q\": \"two\", \"a\": 1, \"l\": [\"x\", \"y\"], \"c\": {\"text\": [\"p\", \"q\"]}}\n");
    fuzz::write_file(d / "d" / "train.csv", "q,a\nthree,1\nfour,0\n\"fi,ve\",1\n");
    return d;
  }();
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_only_errors([&] {
    auto task = parse_task_spec(text, "fuzz.yaml");
    (void)template_hash(*task);
    for (int shots : {0, 2}) {
      TaskOptions o;
      o.data_dir = dir.string();
      o.shots = shots;
      o.limit = 5;
      fuzz::expect_only_errors([&] { (void)task->load(o); });
    }
  });
  return 0;
}
