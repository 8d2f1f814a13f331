// The SST-2 task reader (GLUE TSV via tasks/table.h): the input is sst2/dev.tsv and sst2/train.tsv.
#include "fuzz/fuzz_util.h"
#include "tasks/task.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace eeb;
  const auto dir = fuzz::scratch() / "data";
  fuzz::write_file(dir / "sst2" / "dev.tsv", data, size);
  fuzz::write_file(dir / "sst2" / "train.tsv", data, size);
  static const auto task = make_task("sst2");
  for (int shots : {0, 2}) {
    TaskOptions to;
    to.data_dir = dir.string();
    to.shots = shots;
    fuzz::expect_only_errors([&] { task->load(to); });
  }
  return 0;
}
