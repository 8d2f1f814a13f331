// config.json files as the Hugging Face hub ships them for the models researchers run (every key of
// Llama-3.2-1B, Qwen2.5-0.5B, Qwen3-0.6B and Mistral-7B-v0.1 as published; only the sizes shrunk so
// the random weights stay small) load, with every feature read, and nothing refused that the math
// does not need.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "model/model.h"
#include "tests/model_writers.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;
using nlohmann::json;

namespace {

// Writes `config` and random weights of its shape (the architecture's tensors) into dir.
Model load_with(const TempDir& dir, const std::string& name, json config) {
  ModelConfig c = tiny_config(2, 32, 4, 2, 48, 80);
  config["hidden_size"] = 32, config["intermediate_size"] = 48, config["num_hidden_layers"] = 2;
  config["num_attention_heads"] = 4, config["num_key_value_heads"] = 2, config["vocab_size"] = 80;
  const std::string cls = config["architectures"][0];
  c.architecture = cls == "Qwen2ForCausalLM" ? "qwen2" : cls == "Qwen3ForCausalLM" ? "qwen3"
                 : cls == "MistralForCausalLM" ? "mistral" : "llama";
  if (config.contains("head_dim")) c.head_dim = config["head_dim"];
  c.tied_embeddings = config.value("tie_word_embeddings", false);
  const Model m = random_model(c, 4);
  const std::string d = dir / name;
  std::filesystem::create_directories(d);
  write_text(d + "/config.json", config.dump(2));
  write_safetensors(m, d + "/model.safetensors", DType::BF16);
  return load_model(d);
}

}  // namespace

TEST_CASE("hub config.json files of Llama-3.2, Qwen2.5, Qwen3 and Mistral load", "[weights]") {
  TempDir dir;
  {
    const Model m = load_with(dir, "llama32", json::parse(R"({
      "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
      "bos_token_id": 128000, "eos_token_id": 128001, "head_dim": 16, "hidden_act": "silu",
      "initializer_range": 0.02, "max_position_embeddings": 131072, "mlp_bias": false,
      "model_type": "llama", "pretraining_tp": 1, "rms_norm_eps": 1e-05,
      "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                       "original_max_position_embeddings": 8192, "rope_type": "llama3"},
      "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
      "transformers_version": "4.45.0.dev0", "use_cache": true})"));
    CHECK(m.cfg.architecture == "llama");
    CHECK(m.cfg.head_dim == 16);
    CHECK(m.cfg.rope_type == "llama3");
    CHECK(m.cfg.rope_factor == 32.0);
    CHECK(m.cfg.rope_original_max_pos == 8192);
    CHECK(m.cfg.tied_embeddings);
    CHECK(m.cfg.bos_id == 128000);
  }
  {
    const Model m = load_with(dir, "qwen25", json::parse(R"({
      "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
      "eos_token_id": 151643, "hidden_act": "silu", "initializer_range": 0.02,
      "max_position_embeddings": 32768, "max_window_layers": 24, "model_type": "qwen2",
      "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768,
      "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.40.1",
      "use_cache": true, "use_sliding_window": false})"));
    CHECK(m.cfg.architecture == "qwen2");
    CHECK(m.cfg.qkv_bias);
    CHECK(m.cfg.sliding_window == 0);  // carried, but off without use_sliding_window
    CHECK(m.tensors.count("model.layers.1.self_attn.v_proj.bias"));
  }
  {
    const Model m = load_with(dir, "qwen3", json::parse(R"({
      "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
      "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 16, "hidden_act": "silu",
      "initializer_range": 0.02, "max_position_embeddings": 40960, "max_window_layers": 28,
      "model_type": "qwen3", "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000,
      "sliding_window": null, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
      "transformers_version": "4.51.0", "use_cache": true, "use_sliding_window": false})"));
    CHECK(m.cfg.architecture == "qwen3");
    CHECK(m.cfg.qk_norm);
    CHECK(m.cfg.head_dim * m.cfg.n_heads != m.cfg.dim);
    CHECK(m.tensors.count("model.layers.0.self_attn.k_norm.weight"));
  }
  {
    const Model m = load_with(dir, "mistral", json::parse(R"({
      "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
      "hidden_act": "silu", "initializer_range": 0.02, "max_position_embeddings": 32768,
      "model_type": "mistral", "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
      "sliding_window": 4096, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
      "transformers_version": "4.34.0.dev0", "use_cache": true})"));
    CHECK(m.cfg.architecture == "mistral");
    CHECK(m.cfg.sliding_window == 4096);
    CHECK(m.cfg.head_dim == 8);  // hidden / heads when head_dim is absent
  }
}
