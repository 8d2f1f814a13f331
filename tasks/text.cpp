#include "tasks/text.h"

namespace eeb {

bool py_isspace(char32_t c) {
  // CPython's _PyUnicode_IsWhitespace: bidirectional types WS, B, S and Unicode White_Space.
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

namespace {

// Decodes the code point of `len` bytes at p; false when not a well-formed UTF-8 sequence.
bool decode_utf8(const unsigned char* p, size_t len, char32_t& out) {
  if (len == 1) {
    if (p[0] >= 0x80) return false;
    out = p[0];
    return true;
  }
  const unsigned char lead = p[0];
  const size_t want = (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3 : (lead & 0xF8) == 0xF0 ? 4 : 0;
  if (want != len) return false;
  char32_t c = lead & (0x7F >> len);
  for (size_t i = 1; i < len; ++i) {
    if ((p[i] & 0xC0) != 0x80) return false;
    c = (c << 6) | (p[i] & 0x3F);
  }
  out = c;
  return true;
}

size_t utf8_len(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 0;
}

}  // namespace

size_t py_rstrip_bytes(std::string_view s) {
  const auto* b = reinterpret_cast<const unsigned char*>(s.data());
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && end - start < 4 && (b[start] & 0xC0) == 0x80) --start;
    char32_t c;
    if (!decode_utf8(b + start, end - start, c) || !py_isspace(c)) break;
    end = start;
  }
  return s.size() - end;
}

size_t py_lstrip_bytes(std::string_view s) {
  const auto* b = reinterpret_cast<const unsigned char*>(s.data());
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t len = utf8_len(b[pos]);
    char32_t c;
    if (len == 0 || pos + len > s.size() || !decode_utf8(b + pos, len, c) || !py_isspace(c)) break;
    pos += len;
  }
  return pos;
}

std::string py_rstrip(std::string_view s) { return std::string(s.substr(0, s.size() - py_rstrip_bytes(s))); }

std::string py_strip(std::string_view s) {
  const size_t l = py_lstrip_bytes(s);
  if (l == s.size()) return {};
  return py_rstrip(s.substr(l));
}

}  // namespace eeb
