// eebench make-model: a GGUF file of a random-weight Llama model of a given shape and weight type
// (model/gguf_writer.h), for benchmarks that eebench and llama.cpp run on the same file
// (scripts/bench_vs_llamacpp.sh). Registered by main.cpp through add_make_model_command.
#pragma once
#include <cstdint>
#include <string>

namespace CLI { class App; }

namespace eeb {

struct MakeModelArgs {
  std::string shape, dtype = "bf16", out;
  uint64_t seed = 1;
  int threads = 0;
  bool force = false, quiet = false;
};

CLI::App* add_make_model_command(CLI::App& app, MakeModelArgs& a);
int cmd_make_model(const MakeModelArgs& a);

}  // namespace eeb
