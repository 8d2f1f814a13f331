// A small, bounds-checked reader of the tokenizer.ggml.* metadata of a GGUF file, written for the
// tokenizer tests only so they do not depend on the weights loader. It reads the key/value section
// (GGUF v2/v3 layout) and ignores tensors.
#pragma once
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/model.h"

namespace eeb::testing {

class GgufVocabReader {
 public:
  static EmbeddedVocab read(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error(path + ": cannot open");
    GgufVocabReader r(std::string(std::istreambuf_iterator<char>(f), {}), path);
    return r.parse();
  }

 private:
  enum Type : uint32_t { U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 };

  GgufVocabReader(std::string bytes, std::string path) : b_(std::move(bytes)), path_(std::move(path)) {}

  void need(uint64_t n) const {
    if (n > b_.size() - pos_) throw std::runtime_error(path_ + ": truncated at " + std::to_string(pos_));
  }
  template <class T> T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str() {
    const uint64_t n = get<uint64_t>();
    need(n);
    std::string s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  static uint64_t scalar_size(uint32_t t) {
    switch (t) {
      case U8: case I8: case BOOL: return 1;
      case U16: case I16: return 2;
      case U32: case I32: case F32: return 4;
      case U64: case I64: case F64: return 8;
      default: return 0;
    }
  }
  int64_t get_int(uint32_t t) {
    switch (t) {
      case U8: return get<uint8_t>();
      case I8: return get<int8_t>();
      case U16: return get<uint16_t>();
      case I16: return get<int16_t>();
      case U32: return get<uint32_t>();
      case I32: return get<int32_t>();
      case U64: return static_cast<int64_t>(get<uint64_t>());
      case I64: return get<int64_t>();
      case BOOL: return get<uint8_t>();
      default: throw std::runtime_error(path_ + ": expected an integer value");
    }
  }
  void skip(uint32_t t) {
    if (t == STR) { str(); return; }
    if (t == ARR) {
      const uint32_t et = get<uint32_t>();
      const uint64_t n = get<uint64_t>();
      if (et == STR || et == ARR) {
        for (uint64_t i = 0; i < n; ++i) skip(et);
        return;
      }
      const uint64_t sz = scalar_size(et);
      if (sz == 0 || n > (b_.size() - pos_) / sz) throw std::runtime_error(path_ + ": bad array");
      pos_ += n * sz;
      return;
    }
    const uint64_t sz = scalar_size(t);
    if (sz == 0) throw std::runtime_error(path_ + ": bad value type " + std::to_string(t));
    need(sz);
    pos_ += sz;
  }
  uint64_t array_header(uint32_t want) {
    const uint32_t et = get<uint32_t>();
    if (et != want) throw std::runtime_error(path_ + ": unexpected array element type");
    const uint64_t n = get<uint64_t>();
    if (n > b_.size()) throw std::runtime_error(path_ + ": array too long");
    return n;
  }

  EmbeddedVocab parse() {
    need(4);
    if (b_.compare(0, 4, "GGUF") != 0) throw std::runtime_error(path_ + ": not GGUF");
    pos_ = 4;
    const uint32_t version = get<uint32_t>();
    if (version < 2) throw std::runtime_error(path_ + ": GGUF v1 not supported");
    get<uint64_t>();  // tensor count
    const uint64_t n_kv = get<uint64_t>();
    EmbeddedVocab v;
    for (uint64_t k = 0; k < n_kv; ++k) {
      const std::string key = str();
      const uint32_t t = get<uint32_t>();
      if (key == "tokenizer.ggml.model" && t == STR) {
        v.model = str();
      } else if (key == "tokenizer.ggml.tokens" && t == ARR) {
        const uint64_t n = array_header(STR);
        for (uint64_t i = 0; i < n; ++i) v.tokens.push_back(str());
      } else if (key == "tokenizer.ggml.scores" && t == ARR) {
        const uint64_t n = array_header(F32);
        for (uint64_t i = 0; i < n; ++i) v.scores.push_back(get<float>());
      } else if (key == "tokenizer.ggml.token_type" && t == ARR) {
        const uint64_t n = array_header(I32);
        for (uint64_t i = 0; i < n; ++i) v.types.push_back(get<int32_t>());
      } else if (key == "tokenizer.ggml.bos_token_id") {
        v.bos_id = static_cast<int>(get_int(t));
      } else if (key == "tokenizer.ggml.eos_token_id") {
        v.eos_id = static_cast<int>(get_int(t));
      } else if (key == "tokenizer.ggml.unknown_token_id") {
        v.unk_id = static_cast<int>(get_int(t));
      } else if (key == "tokenizer.ggml.add_space_prefix" && t == BOOL) {
        v.add_dummy_prefix = get<uint8_t>() != 0;
      } else {
        skip(t);
      }
    }
    return v;
  }

  std::string b_;
  std::string path_;
  uint64_t pos_ = 0;
};

}  // namespace eeb::testing
