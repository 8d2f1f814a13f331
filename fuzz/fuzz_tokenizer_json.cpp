// The tokenizer.json reader (byte-level BPE): the input is a tokenizer.json; when it loads, a few
// fixed texts (added tokens, NFC-sensitive, digits, whitespace runs) are encoded and decoded, so the
// regexes, the merge table and the added-token matcher run on what the reader accepted.
#include "fuzz/fuzz_util.h"
#include "tokenizer/factories.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace eeb;
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_only_errors([&] {
    auto t = bpe_from_tokenizer_json_text(text, "tokenizer.json", "", "");
    for (const char* s : {"Hello world", "  <|endoftext|>\n\n 123456 don't", "e\xCC\x81 caf\xC3\xA9 \xF0\x9F\x98\x80", ""}) {
      const std::vector<int> ids = t->encode_for_model(s);
      (void)t->decode(ids);
      for (int id : ids)
        if (id >= 0) (void)t->piece(id);
    }
  });
  return 0;
}
