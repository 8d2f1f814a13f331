// One error type for every user-facing failure: a one-line message that names the
// file (when there is one) and the problem. main() prints it and exits non-zero.
#pragma once
#include <stdexcept>
#include <string>

namespace eeb {

// The message with control characters escaped (\n, \r, \x00, ...), so that names and fields taken
// from a bad file (a tensor name with a newline, a quoted CSV field) cannot break it over lines.
inline std::string one_line(const std::string& s) {
  static const char hex[] = "0123456789abcdef";
  std::string o;
  o.reserve(s.size());
  for (unsigned char c : s) {
    if ((c >= 0x20 && c != 0x7f) || c == '\t') o += static_cast<char>(c);
    else if (c == '\n') o += "\\n";
    else if (c == '\r') o += "\\r";
    else o += std::string("\\x") + hex[c >> 4] + hex[c & 15];
  }
  return o;
}

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(one_line(msg)) {}
  Error(const std::string& file, const std::string& msg)
      : std::runtime_error(one_line(file.empty() ? msg : file + ": " + msg)) {}
};

// Throws Error(file, msg) unless cond holds. For validating untrusted input.
inline void check(bool cond, const std::string& file, const std::string& msg) {
  if (!cond) throw Error(file, msg);
}

}  // namespace eeb
