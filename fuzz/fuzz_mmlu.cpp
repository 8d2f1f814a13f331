// The MMLU task reader (RFC 4180 CSV via tasks/table.h): the input is one subject's test and dev file.
#include "fuzz/fuzz_util.h"
#include "tasks/task.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace eeb;
  const auto dir = fuzz::scratch() / "data";
  fuzz::write_file(dir / "mmlu" / "test" / "anatomy_test.csv", data, size);
  fuzz::write_file(dir / "mmlu" / "dev" / "anatomy_dev.csv", data, size);
  static const auto task = make_task("mmlu");
  for (int shots : {0, 1}) {
    TaskOptions to;
    to.data_dir = dir.string();
    to.shots = shots;
    fuzz::expect_only_errors([&] { task->load(to); });
  }
  return 0;
}
