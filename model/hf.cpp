// Hugging Face model directories: config.json (LlamaForCausalLM / MistralForCausalLM) and
// model.safetensors, or shards model-0000i-of-0000n.safetensors listed in model.safetensors.index.json.
// safetensors: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape,
// data_offsets: [begin, end]}, "__metadata__": {...}}, then the data; offsets are relative to 8 + N.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "model/loaders.h"
#include "core/error.h"

namespace eeb {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr uint64_t kMaxHeader = 100ull * 1024 * 1024;  // safetensors' own limit

json parse_json(const std::string& path, const char* begin, const char* end) {
  try {
    return json::parse(begin, end);
  } catch (const json::parse_error& e) {
    throw Error(path, "not valid JSON (parse error at byte " + std::to_string(e.byte) + ")");
  } catch (const json::exception&) {  // out_of_range 406: a number too large for a double
    throw Error(path, "not valid JSON (a number is out of range)");
  }
}

json read_json_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path, "cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string s = ss.str();
  json j = parse_json(path, s.data(), s.data() + s.size());
  if (!j.is_object()) throw Error(path, "expected a JSON object at the top level");
  return j;
}

// Reads the Llama hyper-parameters from config.json; every key is type-checked.
ModelConfig read_hf_config(const std::string& path) {
  const json j = read_json_file(path);
  ModelConfig c;
  auto has = [&](const char* key) { return j.contains(key) && !j.at(key).is_null(); };
  auto key_err = [&](const char* key, const std::string& what) {
    return Error(path, std::string("\"") + key + "\" " + what);
  };
  auto get_int = [&](const char* key, bool required, int dflt) -> int {
    if (!has(key)) {
      if (required) throw Error(path, std::string("missing required key \"") + key + "\"");
      return dflt;
    }
    const json& v = j.at(key);
    if (!v.is_number_integer()) throw key_err(key, "must be an integer, got " + std::string(v.type_name()));
    const int64_t x = v.get<int64_t>();
    if (x < 0 || x > (int64_t(1) << 30)) throw key_err(key, "= " + std::to_string(x) + " is out of range");
    return static_cast<int>(x);
  };
  auto get_num = [&](const char* key, double dflt) -> double {
    if (!has(key)) return dflt;
    const json& v = j.at(key);
    if (!v.is_number()) throw key_err(key, "must be a number, got " + std::string(v.type_name()));
    const double x = v.get<double>();
    if (!(x > 0 && x < 1e12)) throw key_err(key, "= " + std::to_string(x) + " is out of range");
    return x;
  };
  auto get_str = [&](const char* key) -> std::string {
    if (!has(key)) return "";
    if (!j.at(key).is_string()) throw key_err(key, "must be a string");
    return j.at(key).get<std::string>();
  };
  auto get_bool = [&](const char* key, bool dflt) -> bool {
    if (!has(key)) return dflt;
    if (!j.at(key).is_boolean()) throw key_err(key, "must be true or false");
    return j.at(key).get<bool>();
  };

  if (has("architectures")) {
    const json& a = j.at("architectures");
    if (!a.is_array() || a.empty() || !a[0].is_string()) throw key_err("architectures", "must be a list of strings");
    const std::string arch = a[0].get<std::string>();
    if (arch != "LlamaForCausalLM" && arch != "MistralForCausalLM")
      throw Error(path, "unsupported architecture " + arch + " (LlamaForCausalLM and MistralForCausalLM are)");
    c.architecture = arch == "MistralForCausalLM" ? "mistral" : "llama";
  }
  c.dim = get_int("hidden_size", true, 0);
  c.hidden_dim = get_int("intermediate_size", true, 0);
  c.n_layers = get_int("num_hidden_layers", true, 0);
  c.n_heads = get_int("num_attention_heads", true, 0);
  c.n_kv_heads = get_int("num_key_value_heads", false, c.n_heads);
  c.vocab_size = get_int("vocab_size", true, 0);
  c.head_dim = get_int("head_dim", false, c.n_heads > 0 ? c.dim / c.n_heads : 0);
  c.max_seq_len = get_int("max_position_embeddings", false, 2048);
  c.rope_theta = static_cast<float>(get_num("rope_theta", 10000.0));
  c.norm_eps = static_cast<float>(get_num("rms_norm_eps", 1e-6));
  c.tied_embeddings = get_bool("tie_word_embeddings", false);
  // Features the backends do not implement: refuse rather than compute something else.
  if (has("rope_scaling")) throw key_err("rope_scaling", "is set; scaled rotary embeddings are not supported");
  if (const std::string act = get_str("hidden_act"); !act.empty() && act != "silu")
    throw key_err("hidden_act", "is " + act + "; only silu is supported");
  if (get_bool("attention_bias", false) || get_bool("mlp_bias", false))
    throw Error(path, "attention_bias / mlp_bias are not supported");
  auto first_id = [&](const char* key, int dflt) {
    if (!has(key)) return dflt;
    const json& v = j.at(key).is_array() && !j.at(key).empty() ? j.at(key)[0] : j.at(key);
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > (int64_t(1) << 30))
      throw key_err(key, "must be a non-negative integer or a list of them");
    return static_cast<int>(v.get<int64_t>());
  };
  c.bos_id = first_id("bos_token_id", 1);
  c.eos_id = first_id("eos_token_id", 2);
  return c;
}

DType parse_dtype(const std::string& dt, const std::string& path, const std::string& name) {
  if (dt == "F32") return DType::F32;
  if (dt == "F16") return DType::F16;
  if (dt == "BF16") return DType::BF16;
  throw Error(path, "unsupported dtype " + dt + " for tensor " + name + " (F32, F16 and BF16 are)");
}

// Maps one safetensors file and adds its tensors (those in `only`, when given) to m.
void read_safetensors(Model& m, const std::string& path, const std::set<std::string>* only = nullptr) {
  auto file = std::make_shared<MappedFile>(path);
  m.files.push_back(file);
  const uint64_t size = file->size();
  if (size < 8) throw Error(path, "truncated safetensors file: " + std::to_string(size) + " bytes, no header length");
  uint64_t n = 0;
  std::memcpy(&n, file->data(), 8);  // little-endian u64 (the only hosts we build for)
  if (n > kMaxHeader)
    throw Error(path, "safetensors header length " + std::to_string(n) + " exceeds the 100 MB limit");
  if (n > size - 8)
    throw Error(path, "safetensors header length " + std::to_string(n) + " is larger than the file (" +
                          std::to_string(size) + " bytes)");
  const char* h = reinterpret_cast<const char*>(file->data()) + 8;
  const json header = parse_json(path, h, h + n);
  if (!header.is_object()) throw Error(path, "safetensors header is not a JSON object");
  const uint64_t data0 = 8 + n, data_len = size - data0;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") continue;
    const json& t = it.value();
    auto bad = [&](const std::string& why) { return Error(path, "tensor " + name + ": " + why); };
    if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") || !t.contains("data_offsets"))
      throw bad("needs dtype, shape and data_offsets");
    if (!t.at("dtype").is_string()) throw bad("dtype must be a string");
    TensorInfo ti;
    ti.name = name;
    ti.file = path;
    ti.dtype = parse_dtype(t.at("dtype").get<std::string>(), path, name);
    const json& shape = t.at("shape");
    if (!shape.is_array() || shape.size() > 8) throw bad("shape must be a list of at most 8 dimensions");
    uint64_t numel = 1;
    for (const auto& d : shape) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t(1) << 40))
        throw bad("shape entries must be non-negative integers");
      ti.shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
      numel = checked_mul(numel, d.get<uint64_t>(), path, "tensor " + name);
    }
    const json& off = t.at("data_offsets");
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw bad("data_offsets must be two non-negative integers");
    const uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    if (b > e) throw bad("data_offsets [" + std::to_string(b) + ", " + std::to_string(e) + "] are reversed");
    if (e > data_len)
      throw bad("data_offsets [" + std::to_string(b) + ", " + std::to_string(e) + "] run past the end of the file (" +
                std::to_string(data_len) + " data bytes)");
    const uint64_t want = checked_mul(numel, dtype_bytes(ti.dtype, 1), path, "tensor " + name);
    if (e - b != want)
      throw bad("data_offsets span " + std::to_string(e - b) + " bytes but shape " + shape_str(ti.shape) + " of " +
                t.at("dtype").get<std::string>() + " needs " + std::to_string(want));
    if (only && !only->count(name)) continue;
    ti.data = file->data() + data0 + b;
    ti.nbytes = want;
    if (m.tensors.count(name)) throw bad("appears in more than one file");
    m.tensors[name] = ti;
  }
}

void read_sharded(Model& m, const fs::path& dir, const std::string& index) {
  const json j = read_json_file(index);
  if (!j.contains("weight_map") || !j.at("weight_map").is_object())
    throw Error(index, "missing \"weight_map\" object");
  std::map<std::string, std::set<std::string>> by_file;  // shard -> tensors it must hold
  for (auto it = j.at("weight_map").begin(); it != j.at("weight_map").end(); ++it) {
    if (!it.value().is_string()) throw Error(index, "weight_map value for " + it.key() + " must be a file name");
    const std::string f = it.value().get<std::string>();
    if (f.empty() || f.find('/') != std::string::npos || f.find('\\') != std::string::npos || f == "." || f == "..")
      throw Error(index, "shard name \"" + f + "\" must be a plain file name in the model directory");
    by_file[f].insert(it.key());
  }
  if (by_file.empty()) throw Error(index, "weight_map is empty");
  for (const auto& [f, names] : by_file) {
    const std::string p = (dir / f).string();
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) throw Error(p, "shard listed in model.safetensors.index.json does not exist");
    read_safetensors(m, p, &names);
    for (const auto& n : names)
      if (!m.tensors.count(n)) throw Error(p, "tensor " + n + " listed in the index is not in this shard");
  }
}

}  // namespace

Model load_hf_dir(const std::string& dir) {
  Model m;
  m.path = dir;
  m.format = "hf";
  const fs::path d(dir);
  std::error_code ec;
  const std::string cfg_path = (d / "config.json").string();
  if (!fs::exists(cfg_path, ec)) throw Error(dir, "no config.json: not a Hugging Face model directory");
  m.cfg = read_hf_config(cfg_path);
  const auto single = d / "model.safetensors", index = d / "model.safetensors.index.json";
  if (fs::exists(single, ec))
    read_safetensors(m, single.string());
  else if (fs::exists(index, ec))
    read_sharded(m, d, index.string());
  else
    throw Error(dir, "no model.safetensors or model.safetensors.index.json (only safetensors weights are supported)");
  // Tied models use the embedding as classifier; drop a stored copy so there is one source of truth.
  if (m.cfg.tied_embeddings) m.tensors.erase(kLmHead);
  if (fs::exists(d / "tokenizer.model", ec)) m.tokenizer_model_path = (d / "tokenizer.model").string();
  return m;
}

}  // namespace eeb
