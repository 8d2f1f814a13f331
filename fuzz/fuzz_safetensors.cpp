// The safetensors reader: the input is model.safetensors next to a fixed valid config.json.
#include "fuzz/fuzz_util.h"
#include "tests/model_writers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace eeb;
  static const std::filesystem::path dir = [] {
    auto d = fuzz::scratch() / "hf";
    fuzz::write_file(d / "config.json", testing::hf_config_json(fuzz::tiny_config()).dump());
    return d;
  }();
  fuzz::write_file(dir / "model.safetensors", data, size);
  fuzz::expect_only_errors([&] { fuzz::touch_all_tensors(load_model(dir.string())); });
  return 0;
}
