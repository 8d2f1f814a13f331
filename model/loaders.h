// Format-specific loaders behind load_model() (model/model.h). Each fills a Model
// (tensors as views into memory-mapped files, config, vocabulary); load_model() then validates it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/model.h"

namespace eeb {

Model load_hf_dir(const std::string& dir);
Model load_gguf(const std::string& path);
Model load_llama2c(const std::string& path);

// Checked arithmetic for sizes read from files: throws Error(file, what + ": size overflows").
uint64_t checked_mul(uint64_t a, uint64_t b, const std::string& file, const std::string& what);
// "[a, b, c]"
std::string shape_str(const std::vector<int64_t>& s);

}  // namespace eeb
