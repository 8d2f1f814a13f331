// UTF-8 checks, PCRE2 matching and utf8proc normalization for the byte-level BPE tokenizer.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/text_util.h"

#include <pcre2.h>
#include <utf8proc.h>

#include <cstdlib>
#include <memory>

#include "core/error.h"

namespace eeb::text {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one. When not, *bad is the length of
// the maximal subpart (the bytes Rust's from_utf8_lossy replaces by one U+FFFD; at least 1).
size_t valid_seq(std::string_view s, size_t i, size_t* bad) {
  const auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = at(i);
  *bad = 1;
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xbf;  // range of the second byte (Unicode Table 3-7)
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c == 0xe0) n = 3, lo = 0xa0;
  else if (c >= 0xe1 && c <= 0xec) n = 3;
  else if (c == 0xed) n = 3, hi = 0x9f;
  else if (c >= 0xee && c <= 0xef) n = 3;
  else if (c == 0xf0) n = 4, lo = 0x90;
  else if (c >= 0xf1 && c <= 0xf3) n = 4;
  else if (c == 0xf4) n = 4, hi = 0x8f;
  else return 0;
  for (size_t k = 1; k < n; ++k) {
    if (i + k >= s.size()) return 0;
    const unsigned char b = at(i + k);
    if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf)) return 0;
    *bad = k + 1;
  }
  return n;
}

}  // namespace

size_t invalid_utf8_at(std::string_view s) {
  size_t i = 0, bad;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const size_t n = valid_seq(s, i, &bad);
    if (!n) return i;
    i += n;
  }
  return std::string_view::npos;
}

std::string utf8_lossy(std::string_view s) {
  if (invalid_utf8_at(s) == std::string_view::npos) return std::string(s);
  std::string out;
  size_t i = 0, bad;
  while (i < s.size()) {
    const size_t n = valid_seq(s, i, &bad);
    if (n) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      i += bad;
    }
  }
  return out;
}

Regex::Regex(const std::string& pattern, bool literal, const std::string& origin)
    : origin_(origin), pattern_(pattern) {
  int err = 0;
  PCRE2_SIZE at = 0;
  const uint32_t opts = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0);
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), opts, &err,
                                   &at, nullptr);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw Error(origin, "pre-tokenizer regex does not compile at offset " + std::to_string(at) + ": " +
                            reinterpret_cast<const char*>(msg));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // no JIT (unsupported CPU): the interpreter runs it
  code_ = code;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

void Regex::for_each_match(std::string_view s, const std::function<void(size_t, size_t)>& f) const {
  auto* code = static_cast<pcre2_code*>(code_);
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
      pcre2_match_data_create_from_pattern(code, nullptr), &pcre2_match_data_free);
  if (!md) throw std::bad_alloc();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  size_t off = 0;
  uint32_t jit_off = 0;  // PCRE2_NO_JIT after the JIT stack ran out once
  while (off <= s.size()) {
    int rc = pcre2_match(code, subject, s.size(), off, PCRE2_NO_UTF_CHECK | jit_off, md.get(), nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !jit_off) {
      jit_off = PCRE2_NO_JIT;  // the interpreter keeps its backtracking on the heap
      continue;
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      throw Error(origin_, "pre-tokenizer regex failed on the text: " + std::string(reinterpret_cast<const char*>(msg)));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    const size_t start = ov[0], end = ov[1];
    if (end <= start) {  // an empty match: try again one character further
      if (start >= s.size()) break;
      off = start + utf8_len(static_cast<unsigned char>(s[start]));
      continue;
    }
    f(start, end);
    off = end;
  }
}

std::string normalize(std::string_view s, const std::string& form) {
  bool ascii = true;
  for (unsigned char c : s) ascii = ascii && c < 0x80;
  if (ascii) return std::string(s);  // all four forms leave ASCII alone
  int opts = UTF8PROC_STABLE;
  if (form == "NFC") opts |= UTF8PROC_COMPOSE;
  else if (form == "NFD") opts |= UTF8PROC_DECOMPOSE;
  else if (form == "NFKC") opts |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
  else if (form == "NFKD") opts |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
  else throw Error("unknown normalization form " + form);
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                          static_cast<utf8proc_ssize_t>(s.size()), &out,
                                          static_cast<utf8proc_option_t>(opts));
  if (n < 0) throw Error(std::string("Unicode normalization failed: ") + utf8proc_errmsg(n));
  std::string r(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  std::free(out);
  return r;
}

}  // namespace eeb::text
