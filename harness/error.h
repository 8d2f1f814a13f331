// One error type for every user-facing failure: a one-line message that names the
// file (when there is one) and the problem. main() prints it and exits non-zero.
#pragma once
#include <stdexcept>
#include <string>

namespace eeb {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
  Error(const std::string& file, const std::string& msg)
      : std::runtime_error(file.empty() ? msg : file + ": " + msg) {}
};

// Throws Error(file, msg) unless cond holds. For validating untrusted input.
inline void check(bool cond, const std::string& file, const std::string& msg) {
  if (!cond) throw Error(file, msg);
}

}  // namespace eeb
