#include "harness/loaded_model.h"

#include "backends/registry.h"
#include "core/error.h"
#include "harness/hf_hub.h"
#include "harness/resources.h"

namespace eeb {

LoadedModel load_for_backend(const std::string& model_path, const std::string& tokenizer_path,
                             const std::string& backend, const BackendOptions& opt) {
  if (model_path.empty()) throw Error("no model given (--model PATH)");
  LoadedModel lm;
  lm.model = load_model(resolve_model_path(model_path));  // a hub id: its cached snapshot
  lm.tokenizer = tokenizer_path.empty() ? Tokenizer::for_model(lm.model)
                                        : Tokenizer::from_file(tokenizer_path);
  if (lm.tokenizer->vocab_size() > lm.model.cfg.vocab_size)
    throw Error(model_path, "tokenizer has " + std::to_string(lm.tokenizer->vocab_size()) +
                                " tokens but the model's vocabulary is " +
                                std::to_string(lm.model.cfg.vocab_size));
  if (backend_info(backend).weights_in_host_memory)  // refuse before converting weights, not after the OOM killer
    check_host_memory(lm.model, cpu_backend_bytes(lm.model, opt.dtype), host_memory_available());
  lm.backend = make_backend(backend, lm.model, opt);
  return lm;
}

}  // namespace eeb
