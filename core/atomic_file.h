// Writing a file so that a reader (or a crash) never sees half of it: write to a temporary name in
// the same directory, then rename over the target.
#pragma once
#include <string>

namespace eeb {

// Throws Error(path, ...) when the file cannot be written.
void write_file_atomic(const std::string& path, const std::string& content);

}  // namespace eeb
