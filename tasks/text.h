// Small text helpers with Python's semantics, for prompts that must match lm-evaluation-harness
// byte for byte (str.strip(), str.rstrip(): Unicode whitespace as str.isspace() defines it).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/strings.h"

namespace eeb {

// Python's str.isspace() for one code point.
bool py_isspace(char32_t c);
// Bytes of trailing whitespace that Python's s.rstrip() would remove (s read as UTF-8; an invalid
// sequence is never whitespace).
size_t py_rstrip_bytes(std::string_view s);
// Bytes of leading whitespace that s.lstrip() would remove.
size_t py_lstrip_bytes(std::string_view s);
std::string py_strip(std::string_view s);
std::string py_rstrip(std::string_view s);


}  // namespace eeb
