// UTF-8 helpers and the PCRE2 / utf8proc wrappers the byte-level BPE tokenizer uses.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace eeb::text {

// Offset of the first byte that does not start a valid UTF-8 sequence (overlong forms, surrogates
// and code points above U+10FFFF are invalid), or npos when the whole string is valid.
size_t invalid_utf8_at(std::string_view s);
// Rust's String::from_utf8_lossy: each maximal invalid subpart becomes U+FFFD.
std::string utf8_lossy(std::string_view s);
// Length of the UTF-8 sequence starting with lead byte c (1 for an invalid lead byte).
inline size_t utf8_len(unsigned char c) { return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4; }

// A compiled PCRE2 pattern (UTF + UCP, JIT when available). Throws Error(origin, ...) when the
// pattern does not compile.
class Regex {
 public:
  Regex(const std::string& pattern, bool literal, const std::string& origin);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  // Calls f(start, end) for each non-empty match in s, left to right (onig's find_iter order);
  // s must be valid UTF-8.
  void for_each_match(std::string_view s, const std::function<void(size_t, size_t)>& f) const;

 private:
  void* code_ = nullptr;  // pcre2_code_8*
  std::string origin_, pattern_;
};

// Unicode normalization through utf8proc: form is NFC, NFD, NFKC or NFKD. s must be valid UTF-8.
std::string normalize(std::string_view s, const std::string& form);

}  // namespace eeb::text
