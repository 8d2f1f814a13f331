// The GGUF reader, and the SentencePiece vocabulary a GGUF file may embed.
#include "fuzz/fuzz_util.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace eeb;
  const std::string path = fuzz::write_file(fuzz::scratch() / "model.gguf", data, size);
  fuzz::expect_only_errors([&] {
    const Model m = load_model(path);
    fuzz::touch_all_tensors(m);
    if (!m.vocab.empty()) {
      auto tok = Tokenizer::for_model(m);
      tok->decode(tok->encode("Hello world, 1 2 3 \xc3\xa9"));
    }
  });
  return 0;
}
