// Hugging Face model directories: config.json (LlamaForCausalLM / MistralForCausalLM) and
// model.safetensors or sharded model-*.safetensors with model.safetensors.index.json.
// safetensors: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape,
// data_offsets: [begin, end]}}, then the data; offsets are relative to the data start.
#include <cstring>
#include <filesystem>
#include <map>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "backends/weights/loaders.h"
#include "harness/error.h"

namespace eeb {
namespace fs = std::filesystem;
using nlohmann::json;

static json read_json_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error(path, "cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  auto j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) throw Error(path, "not valid JSON");
  return j;
}

static ModelConfig read_hf_config(const std::string& path) {
  json j = read_json_file(path);
  if (!j.is_object()) throw Error(path, "expected a JSON object");
  ModelConfig c;
  auto get_int = [&](const char* key, bool required, int dflt) -> int {
    if (!j.contains(key) || j[key].is_null()) {
      if (required) throw Error(path, std::string("missing required key \"") + key + "\"");
      return dflt;
    }
    if (!j[key].is_number_integer()) throw Error(path, std::string("\"") + key + "\" must be an integer");
    auto v = j[key].get<int64_t>();
    if (v < 0 || v > (1LL << 30)) throw Error(path, std::string("\"") + key + "\" out of range");
    return static_cast<int>(v);
  };
  auto get_num = [&](const char* key, double dflt) -> double {
    if (!j.contains(key) || j[key].is_null()) return dflt;
    if (!j[key].is_number()) throw Error(path, std::string("\"") + key + "\" must be a number");
    return j[key].get<double>();
  };
  if (j.contains("architectures")) {
    if (!j["architectures"].is_array() || j["architectures"].empty() || !j["architectures"][0].is_string())
      throw Error(path, "\"architectures\" must be a list of strings");
    std::string a = j["architectures"][0];
    if (a != "LlamaForCausalLM" && a != "MistralForCausalLM")
      throw Error(path, "unsupported architecture " + a + " (LlamaForCausalLM or MistralForCausalLM)");
    c.architecture = a == "MistralForCausalLM" ? "mistral" : "llama";
  }
  c.dim = get_int("hidden_size", true, 0);
  c.hidden_dim = get_int("intermediate_size", true, 0);
  c.n_layers = get_int("num_hidden_layers", true, 0);
  c.n_heads = get_int("num_attention_heads", true, 0);
  c.n_kv_heads = get_int("num_key_value_heads", false, c.n_heads);
  c.vocab_size = get_int("vocab_size", true, 0);
  c.head_dim = get_int("head_dim", false, c.n_heads ? c.dim / c.n_heads : 0);
  c.max_seq_len = get_int("max_position_embeddings", false, 2048);
  c.rope_theta = static_cast<float>(get_num("rope_theta", 10000.0));
  c.norm_eps = static_cast<float>(get_num("rms_norm_eps", 1e-6));
  if (j.contains("tie_word_embeddings")) {
    if (!j["tie_word_embeddings"].is_boolean()) throw Error(path, "\"tie_word_embeddings\" must be true or false");
    c.tied_embeddings = j["tie_word_embeddings"];
  }
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null())
    throw Error(path, "rope_scaling is not supported");
  auto first_id = [&](const char* key, int dflt) {
    if (!j.contains(key) || j[key].is_null()) return dflt;
    const json& v = j[key].is_array() && !j[key].empty() ? j[key][0] : j[key];
    if (!v.is_number_integer()) throw Error(path, std::string("\"") + key + "\" must be an integer");
    return v.get<int>();
  };
  c.bos_id = first_id("bos_token_id", 1);
  c.eos_id = first_id("eos_token_id", 2);
  return c;
}

static void read_safetensors(Model& m, const std::string& path,
                             const std::set<std::string>* only = nullptr) {
  auto file = std::make_shared<MappedFile>(path);
  m.files.push_back(file);
  const uint64_t size = file->size();
  if (size < 8) throw Error(path, "truncated safetensors file (" + std::to_string(size) + " bytes)");
  uint64_t n = 0;
  std::memcpy(&n, file->data(), 8);
  if (n > size - 8) throw Error(path, "header length " + std::to_string(n) + " exceeds the file size");
  if (n > 100u * 1024 * 1024) throw Error(path, "header length " + std::to_string(n) + " is absurd");
  auto header = json::parse(file->data() + 8, file->data() + 8 + n, nullptr, false);
  if (header.is_discarded() || !header.is_object()) throw Error(path, "header is not a JSON object");
  const uint64_t data0 = 8 + n, data_len = size - data0;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const std::string& name = it.key();
    const json& t = it.value();
    auto bad = [&](const std::string& why) { return Error(path, "tensor " + name + ": " + why); };
    if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") || !t.contains("data_offsets"))
      throw bad("needs dtype, shape and data_offsets");
    if (!t["dtype"].is_string()) throw bad("dtype must be a string");
    std::string dt = t["dtype"];
    TensorInfo ti;
    ti.name = name;
    ti.file = path;
    if (dt == "F32") ti.dtype = DType::F32;
    else if (dt == "F16") ti.dtype = DType::F16;
    else if (dt == "BF16") ti.dtype = DType::BF16;
    else throw Error(path, "unsupported dtype " + dt + " for tensor " + name);
    if (!t["shape"].is_array()) throw bad("shape must be a list");
    uint64_t numel = 1;
    for (const auto& d : t["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) throw bad("shape entries must be non-negative integers");
      ti.shape.push_back(d.get<int64_t>());
      numel = checked_mul(numel, d.get<uint64_t>(), path, "tensor " + name);
    }
    const auto& off = t["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw bad("data_offsets must be two non-negative integers");
    uint64_t b = off[0], e = off[1];
    if (b > e || e > data_len)
      throw Error(path, "tensor " + name + ": data offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                            ") are past the end of the data (" + std::to_string(data_len) + " bytes)");
    const uint64_t want = checked_mul(numel, dt == "F32" ? 4 : 2, path, "tensor " + name);
    if (e - b != want)
      throw Error(path, "tensor " + name + ": " + std::to_string(e - b) + " bytes for a " + dt +
                            " shape that needs " + std::to_string(want));
    if (only && !only->count(name)) continue;
    ti.data = file->data() + data0 + b;
    ti.nbytes = e - b;
    if (m.tensors.count(name)) throw Error(path, "tensor " + name + " appears twice");
    m.tensors[name] = ti;
  }
}

Model load_hf_dir(const std::string& dir) {
  Model m;
  m.path = dir;
  m.format = "hf";
  const std::string cfg_path = (fs::path(dir) / "config.json").string();
  if (!fs::exists(cfg_path)) throw Error(dir, "no config.json (not a Hugging Face model directory)");
  m.cfg = read_hf_config(cfg_path);
  const auto single = fs::path(dir) / "model.safetensors";
  const auto index = fs::path(dir) / "model.safetensors.index.json";
  if (fs::exists(single)) {
    read_safetensors(m, single.string());
  } else if (fs::exists(index)) {
    json j = read_json_file(index.string());
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      throw Error(index.string(), "missing \"weight_map\" object");
    std::map<std::string, std::set<std::string>> by_file;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string()) throw Error(index.string(), "weight_map values must be file names");
      std::string f = it.value();
      if (f.find('/') != std::string::npos || f.find("..") != std::string::npos)
        throw Error(index.string(), "shard name " + f + " must be a plain file name");
      by_file[f].insert(it.key());
    }
    for (const auto& [f, names] : by_file) {
      auto p = (fs::path(dir) / f).string();
      if (!fs::exists(p)) throw Error(p, "shard listed in model.safetensors.index.json is missing");
      read_safetensors(m, p, &names);
      for (const auto& n : names)
        if (!m.tensors.count(n)) throw Error(p, "tensor " + n + " listed in the index is not in this shard");
    }
  } else {
    throw Error(dir, "no model.safetensors or model.safetensors.index.json");
  }
  if (m.cfg.tied_embeddings) m.tensors.erase(kLmHead);
  const auto tok = fs::path(dir) / "tokenizer.model";
  if (fs::exists(tok)) m.tokenizer_model_path = tok.string();
  return m;
}

}  // namespace eeb
