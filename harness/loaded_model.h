// A model loaded onto a backend together with its tokenizer: what every command starts from.
#pragma once
#include <memory>
#include <string>

#include "backends/registry.h"
#include "tokenizer/tokenizer.h"

namespace eeb {

struct LoadedModel {
  Model model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<Backend> backend;
};

// Loads weights (validated), the tokenizer (tokenizer_path, else the model's own) and the backend.
LoadedModel load_for_backend(const std::string& model_path, const std::string& tokenizer_path,
                             const std::string& backend, const BackendOptions& opt);

}  // namespace eeb
