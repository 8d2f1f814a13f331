// Hugging Face model directories: config.json (a class of the architecture table) and
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

#include "model/architecture.h"
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

// config.json "rope_scaling": default, linear and llama3 (transformers' rope_type names; "type" is
// the older spelling) are implemented; any other type is refused with its name.
void read_rope_scaling(const std::string& path, const json& r, ModelConfig& c) {
  auto bad = [&](const std::string& what) { return Error(path, "\"rope_scaling\" " + what); };
  if (!r.is_object()) throw bad("must be an object or null");
  std::string type;
  for (const char* k : {"rope_type", "type"})
    if (r.contains(k) && !r.at(k).is_null()) {
      if (!r.at(k).is_string()) throw bad(std::string(k) + " must be a string");
      type = r.at(k).get<std::string>();
      break;
    }
  if (type.empty()) throw bad("has no rope_type");
  auto num = [&](const char* k) {
    if (!r.contains(k) || !r.at(k).is_number()) throw bad(std::string("of type ") + type + " needs a number " + k);
    const double v = r.at(k).get<double>();
    if (!(v > 0 && v < 1e9)) throw bad(std::string(k) + " = " + std::to_string(v) + " is out of range");
    return v;
  };
  if (type == "default") return;
  if (type == "linear") {
    c.rope_type = type;
    c.rope_factor = num("factor");
  } else if (type == "llama3") {
    c.rope_type = type;
    c.rope_factor = num("factor");
    c.rope_low_freq_factor = num("low_freq_factor");
    c.rope_high_freq_factor = num("high_freq_factor");
    c.rope_original_max_pos = static_cast<int>(num("original_max_position_embeddings"));
    if (!(c.rope_high_freq_factor > c.rope_low_freq_factor))
      throw bad("high_freq_factor must be larger than low_freq_factor");
  } else {
    throw bad("type '" + type + "' is not supported (default, linear and llama3 are; dynamic, yarn and longrope are not)");
  }
}

// Reads the hyper-parameters from config.json; every key is type-checked.
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

  const Architecture* arch = &architecture("llama");
  if (has("architectures")) {
    const json& a = j.at("architectures");
    if (!a.is_array() || a.empty() || !a[0].is_string()) throw key_err("architectures", "must be a list of strings");
    const std::string cls = a[0].get<std::string>();
    arch = architecture_for_hf_class(cls);
    if (!arch) throw Error(path, "unsupported architecture " + cls + " (supported: " + known_hf_classes() + ")");
  }
  set_architecture(c, *arch);
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
  // Features that change the math: implemented ones are read, the rest refused rather than
  // computed as something else.
  if (has("rope_scaling")) read_rope_scaling(path, j.at("rope_scaling"), c);
  if (has("partial_rotary_factor") && get_num("partial_rotary_factor", 1.0) != 1.0)
    throw key_err("partial_rotary_factor", "is not 1; partial rotary embeddings are not supported");
  if (const std::string act = get_str("hidden_act"); !act.empty() && act != "silu")
    throw key_err("hidden_act", "is " + act + "; only silu is supported");
  if (get_bool("attention_bias", false)) throw key_err("attention_bias", "is true; attention biases are not supported");
  if (get_bool("mlp_bias", false)) throw key_err("mlp_bias", "is true; MLP biases are not supported");
  if (arch->sliding_window) {
    c.sliding_window = get_int("sliding_window", false, 0);  // null: unlimited
  } else {
    // Qwen2/Qwen3 carry a sliding_window value that only applies with use_sliding_window.
    if (get_bool("use_sliding_window", false))
      throw key_err("use_sliding_window", "is true; " + std::string(arch->hf_class) +
                                              "'s per-layer sliding window is not implemented");
  }
  if (has("layer_types")) {
    const json& lt = j.at("layer_types");
    if (!lt.is_array()) throw key_err("layer_types", "must be a list of strings");
    for (const auto& t : lt)
      if (!t.is_string() || t.get<std::string>() != "full_attention")
        throw key_err("layer_types", "has a layer that is not full_attention; per-layer attention types are not implemented");
  }
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
  // Buffers derived from the config (rotary inv_freq) are dropped too; anything else the
  // architecture does not know is refused by validate_model().
  const Architecture& arch = architecture(m.cfg.architecture);
  for (auto it = m.tensors.begin(); it != m.tensors.end();) {
    int layer = 0;
    const TensorSpec* s = match_hf(arch, it->first, &layer);
    const bool drop = s && (s->role == Role::Derived || (s->role == Role::LmHead && m.cfg.tied_embeddings));
    it = drop ? m.tensors.erase(it) : std::next(it);
  }
  if (fs::exists(d / "tokenizer.model", ec)) m.tokenizer_model_path = (d / "tokenizer.model").string();
  return m;
}

}  // namespace eeb
