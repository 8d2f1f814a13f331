// The config.json reader: the input is config.json next to a fixed valid model.safetensors.
#include "fuzz/fuzz_util.h"
#include "tests/model_writers.h"
#include "tests/random_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace eeb;
  static const std::filesystem::path dir = [] {
    auto d = fuzz::scratch() / "hf";
    std::filesystem::create_directories(d);
    testing::write_safetensors(testing::random_model(fuzz::tiny_config(), 1), (d / "model.safetensors").string(),
                               DType::F32);
    return d;
  }();
  fuzz::write_file(dir / "config.json", data, size);
  fuzz::expect_only_errors([&] { fuzz::touch_all_tensors(load_model(dir.string())); });
  return 0;
}
