// The llama2.c checkpoint reader (a .bin file: whatever is neither a directory nor GGUF).
#include <cstring>

#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace eeb;
  // Not named .gguf and without the GGUF magic: load_model() treats it as llama2.c.
  if (size >= 4 && std::memcmp(data, "GGUF", 4) == 0) return 0;
  const std::string path = fuzz::write_file(fuzz::scratch() / "model.bin", data, size);
  fuzz::expect_only_errors([&] { fuzz::touch_all_tensors(load_model(path)); });
  return 0;
}
