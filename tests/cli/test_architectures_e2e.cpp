// eebench run / logits / tokenize end to end on small random models of each architecture family, as a
// user would meet them: an HF directory keyed as the family's config.json (model_type, architectures,
// rope_scaling, sliding_window, ...) with the family's real tokenizer files, and the same weights as a
// GGUF file with the vocabulary embedded (tokenizer.ggml.*); each also as BF16 HF dir and Q8_0 GGUF.
// Checked against independent computations:
//   - token ids: the official Hugging Face `tokenizers` ids of shared/data/tokenizers/expected (SST-2
//     dev prompts and their continuations) for the byte-level BPE families; libsentencepiece itself for
//     Llama-2 (HF's LlamaTokenizer encodes with it);
//   - log-likelihoods and logit-lens probabilities: the float64 reference of tests/cpu/reference.h on
//     the same weights, scored lm-eval style (continuation = whole[len(context):]);
//   - the BOS policy recorded in models.config: Llama-3 <|begin_of_text|>, Qwen none, Llama-2 <s>;
//   - HF dir and GGUF (F32) agree on every stored log-likelihood to 1e-5 relative (Mistral with a
//     window excepted: llama.cpp's GGUF of Mistral has no sliding-window key, so the GGUF is checked
//     against the reference with full attention instead).
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sentencepiece_processor.h>

#include "tests/gguf_vocab_from_json.h"
#include "tasks/task.h"
#include "tests/cli/cli_util.h"
#include "tests/cpu/reference.h"
#include "tests/model_writers.h"
#include "tests/random_model.h"
#include "tests/test_data.h"

using namespace eeb;
using namespace eeb::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr int kDocs = 3;

struct Family {
  std::string name;       // for messages
  ModelConfig cfg;
  std::string tok_dir;    // shared/data/tokenizers/<...>
  std::string expected;   // tokenizers/expected/<...>.jsonl; "" for SentencePiece
  std::string gguf_pre;   // tokenizer.ggml.pre for byte-level BPE vocabularies
  int bos = -1;           // BOS id the family prepends; -1: none
  std::string bos_piece;  // its vocabulary entry
  std::string kind;       // tokenizer kind recorded with the run
  json extra = json::object();  // more config.json keys as the family's published configs carry them
};

std::vector<json> expected_lines(const std::string& name, const std::string& set) {
  std::ifstream f(shared_data() + "/tokenizers/expected/" + name + ".jsonl");
  std::vector<json> out;
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) {
      json j = json::parse(line);
      if (j.at("set") == set) out.push_back(std::move(j));
    }
  return out;
}

std::vector<Family> families() {
  std::vector<Family> v;
  auto base = [](const std::string& arch, int dim, int heads, int kv, int hd, int vocab, int bos, int eos) {
    ModelConfig c = tiny_config(2, dim, heads, kv, 40, vocab);
    c.architecture = arch;
    c.head_dim = hd;
    c.bos_id = bos, c.eos_id = eos;
    return c;
  };
  {  // Llama-3.x: rope_scaling llama3 (low original length so the scaling bends frequencies in use).
    ModelConfig c = base("llama", 32, 4, 2, 8, 128256, 128000, 128001);
    c.rope_type = "llama3";
    c.rope_factor = 8, c.rope_low_freq_factor = 1, c.rope_high_freq_factor = 4, c.rope_original_max_pos = 16;
    c.rope_theta = 500000.f;
    // Meta-Llama-3.1-8B's config.json keys beyond the dimensions.
    const json llama = {{"attention_bias", false}, {"attention_dropout", 0.0}, {"mlp_bias", false},
                        {"pretraining_tp", 1}, {"initializer_range", 0.02}, {"use_cache", true},
                        {"eos_token_id", {128001, 128008, 128009}}, {"torch_dtype", "bfloat16"},
                        {"transformers_version", "4.43.0.dev0"}};
    v.push_back({"llama3", c, "llama3", "llama3", "llama-bpe", 128000, "<|begin_of_text|>", "bpe", llama});
    c.tied_embeddings = true;  // Llama-3.2-1B/3B: tied, so the GGUF has no output.weight
    c.rope_factor = 32;
    v.push_back({"llama3.2-tied", c, "llama3", "llama3", "llama-bpe", 128000, "<|begin_of_text|>", "bpe", llama});
  }
  {  // Qwen2.5: q/k/v biases, tied embeddings, vocab_size 151936 > the tokenizer's 151669 ids.
    ModelConfig c = base("qwen2", 32, 4, 2, 8, 151936, 151643, 151645);
    c.tied_embeddings = true;
    c.rope_theta = 1000000.f;
    // Qwen2.5-0.5B's: a sliding_window value and max_window_layers < layers, unused without use_sliding_window.
    const json qwen2 = {{"attention_dropout", 0.0}, {"initializer_range", 0.02}, {"max_window_layers", 1},
                        {"sliding_window", 32768}, {"use_sliding_window", false}, {"use_mrope", false},
                        {"rope_scaling", nullptr}, {"use_cache", true}, {"torch_dtype", "bfloat16"}};
    v.push_back({"qwen2", c, "qwen3", "qwen3", "qwen2", -1, "", "bpe", qwen2});
  }
  {  // Qwen3: per-head q/k RMSNorm, head_dim 16 != hidden 32 / 4 heads.
    ModelConfig c = base("qwen3", 32, 4, 2, 16, 151936, 151643, 151645);
    c.rope_theta = 1000000.f;
    // Qwen3-0.6B's: rope_scaling and sliding_window null, attention_bias false.
    const json qwen3 = {{"attention_bias", false}, {"attention_dropout", 0.0}, {"rope_scaling", nullptr},
                        {"sliding_window", nullptr}, {"use_sliding_window", false}, {"max_window_layers", 2},
                        {"initializer_range", 0.02}, {"use_cache", true}, {"torch_dtype", "bfloat16"}};
    v.push_back({"qwen3", c, "qwen3", "qwen3", "qwen2", -1, "", "bpe", qwen3});
  }
  {  // Mistral: sliding window shorter than the SST-2 prompts; Llama-2 SentencePiece vocabulary.
    ModelConfig c = base("mistral", 32, 4, 2, 8, 32000, 1, 2);
    c.sliding_window = 8;
    const json mistral = {{"attention_dropout", 0.0}, {"initializer_range", 0.02}, {"use_cache", true},
                          {"torch_dtype", "bfloat16"}, {"transformers_version", "4.34.0.dev0"}};
    v.push_back({"mistral", c, "llama2", "", "", 1, "<s>", "sentencepiece", mistral});
    c.sliding_window = 0;  // Mistral-7B-v0.2+: "sliding_window": null, so the GGUF must agree exactly
    v.push_back({"mistral-no-window", c, "llama2", "", "", 1, "<s>", "sentencepiece", mistral});
  }
  return v;
}

// What llama.cpp's convert_hf_to_gguf.py writes for a tokenizer.json (as tests/tokenizer/
// test_bpe_expected.cpp): tokens by id, special added tokens control (3), merges "left right".
EmbeddedVocab gguf_vocab_of(const std::string& tokenizer_json, const Family& f) {
  EmbeddedVocab v = eeb::testing::gguf_vocab_from_tokenizer_json(tokenizer_json, f.gguf_pre);
  v.bos_id = f.cfg.bos_id, v.eos_id = f.cfg.eos_id, v.unk_id = 0;
  v.add_bos = f.bos >= 0 ? 1 : 0;  // the converter writes add_bos_token for both families
  return v;
}

// write_gguf() embeds tokens/scores/types/ids only; the gpt2 keys (merges, pre, add_bos_token) are
// spliced in after the header as one block padded to the 32-byte alignment, so later offsets stay aligned.
void add_bpe_keys(const std::string& path, const EmbeddedVocab& v) {
  std::vector<uint8_t> file = read_bytes(path);
  GgufBuilder kv;
  kv.str("tokenizer.ggml.merges"), kv.raw<uint32_t>(GgufBuilder::ARRAY), kv.raw<uint32_t>(GgufBuilder::STRING);
  kv.raw<uint64_t>(v.merges.size());
  for (const auto& s : v.merges) kv.str(s);
  kv.kv_str("tokenizer.ggml.pre", v.pre);
  kv.kv_bool("tokenizer.ggml.add_bos_token", v.add_bos == 1);
  const std::string pad_key = "general.padding";
  const size_t fixed = kv.b.size() + 8 + pad_key.size() + 4 + 8;
  kv.kv_str(pad_key, std::string((32 - fixed % 32) % 32, ' '));
  REQUIRE(kv.b.size() % 32 == 0);
  uint64_t n_kv;
  std::memcpy(&n_kv, file.data() + 16, 8);
  n_kv += 4;
  std::memcpy(file.data() + 16, &n_kv, 8);
  file.insert(file.begin() + 24, kv.b.begin(), kv.b.end());
  write_bytes(path, file);
}

struct Stored {
  std::vector<std::vector<double>> loglik;  // per doc, per choice
  json tokenizer;                           // models.config["tokenizer"]
};

Stored read_db(const std::string& db) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  Stored out;
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, "SELECT loglik FROM samples ORDER BY doc_index", -1, &s, nullptr) == SQLITE_OK);
  while (sqlite3_step(s) == SQLITE_ROW)
    out.loglik.push_back(json::parse(reinterpret_cast<const char*>(sqlite3_column_text(s, 0))).get<std::vector<double>>());
  sqlite3_finalize(s);
  REQUIRE(sqlite3_prepare_v2(h, "SELECT config FROM models", -1, &s, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  out.tokenizer = json::parse(reinterpret_cast<const char*>(sqlite3_column_text(s, 0))).at("tokenizer");
  sqlite3_finalize(s);
  sqlite3_close(h);
  return out;
}

// Float64 log-softmax of row r of [n, V] logits.
double ref_logprob(const Vec& lg, int V, int row, int id) {
  const double* p = &lg[size_t(row) * V];
  const double mx = *std::max_element(p, p + V);
  double z = 0;
  for (int i = 0; i < V; ++i) z += std::exp(p[i] - mx);
  return p[id] - mx - std::log(z);
}

double ref_loglik(const RefModel& rm, const std::vector<int32_t>& whole, size_t n_ctx) {
  const int n = static_cast<int>(whole.size());
  const auto hs = ref_hiddens(rm, whole, all_layers(rm.c.n_layers));
  const Vec lg = ref_logits(rm, hs.back(), n);
  double s = 0;
  for (int j = static_cast<int>(n_ctx); j < n; ++j) s += ref_logprob(lg, rm.c.vocab_size, j - 1, whole[j]);
  return s;
}

// The model with every tensor as load_f32() gives it (dequantized, HF row order): the weights the
// reference sees for a BF16 / Q8_0 file.
Model f32_copy(const Model& in) {
  Model out;
  out.cfg = in.cfg;
  for (const auto& [name, t] : in.tensors) {
    auto buf = std::make_shared<std::vector<float>>(in.load_f32(name));
    TensorInfo c = t;
    c.dtype = DType::F32;
    c.data = reinterpret_cast<const uint8_t*>(buf->data());
    c.nbytes = buf->size() * sizeof(float);
    out.tensors[name] = c;
    out.keepalive.push_back(buf);
  }
  return out;
}

// Single-quoted for sh, quotes inside included (SST-2 text has "it 's").
std::string sh(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

std::vector<int32_t> with_bos(int bos, const std::vector<int>& ids) {
  std::vector<int32_t> out;
  if (bos >= 0) out.push_back(bos);
  out.insert(out.end(), ids.begin(), ids.end());
  return out;
}

// Writes family `name` as an HF dir and a GGUF file and checks tokenize, run and logits on both.
void check_family(const std::string& name) {
  const std::vector<Family> all = families();
  const auto it = std::find_if(all.begin(), all.end(), [&](const Family& x) { return x.name == name; });
  REQUIRE(it != all.end());
  const Family& f = *it;
  const std::string data = shared_data() + "/datasets";
  const std::string toks = shared_data() + "/tokenizers/";
  TaskOptions to;
  to.data_dir = data;
  to.limit = kDocs;
  const auto docs = make_task("sst2")->load(to);
  REQUIRE(docs.size() == static_cast<size_t>(kDocs));
  sentencepiece::SentencePieceProcessor sp;
  REQUIRE(sp.Load(toks + "llama2/tokenizer.model").ok());
  {
    INFO("family " << f.name);
    const std::string dir = temp_dir("arch_e2e_" + f.name);
    const Model m = random_model(f.cfg, 7);
    const RefModel rm(m);

    // Reference ids of each doc's context and context + choice (no BOS).
    std::vector<std::vector<int>> ctx_ids(kDocs);
    std::vector<std::vector<std::vector<int>>> full_ids(kDocs);
    if (!f.expected.empty()) {
      const auto lines = expected_lines(f.expected, "sst2_dev");
      REQUIRE(lines.size() >= static_cast<size_t>(kDocs));
      for (int i = 0; i < kDocs; ++i) {
        REQUIRE(lines[i].at("i") == i);
        REQUIRE(lines[i].at("text") == docs[i].context);  // the same prompt eebench scores
        ctx_ids[i] = lines[i].at("ids").get<std::vector<int>>();
        REQUIRE(docs[i].choices.size() == lines[i].at("continuations").size());
        for (size_t c = 0; c < docs[i].choices.size(); ++c) {
          const json& cont = lines[i].at("continuations")[c];
          REQUIRE(cont.at("text") == docs[i].choices[c]);
          full_ids[i].push_back(cont.at("full_ids").get<std::vector<int>>());
        }
      }
    } else {
      for (int i = 0; i < kDocs; ++i) {
        ctx_ids[i] = sp.EncodeAsIds(docs[i].context);
        for (const auto& choice : docs[i].choices) full_ids[i].push_back(sp.EncodeAsIds(docs[i].context + choice));
      }
    }

    // The HF directory: weights + config.json as the family writes it + its tokenizer files.
    auto write_hf = [&](const std::string& hf, DType dt) {
      write_hf_dir(m, hf, dt);
      if (f.kind == "bpe") {
        fs::copy_file(toks + f.tok_dir + "/tokenizer.json", hf + "/tokenizer.json");
        fs::copy_file(toks + f.tok_dir + "/tokenizer_config.json", hf + "/tokenizer_config.json");
      } else {
        fs::copy_file(toks + "llama2/tokenizer.model", hf + "/tokenizer.model");
        write_text(hf + "/tokenizer_config.json",  // Mistral-7B-v0.1's BOS/EOS settings
                   R"({"add_bos_token": true, "add_eos_token": false, "bos_token": "<s>", "eos_token": "</s>",
                       "unk_token": "<unk>", "tokenizer_class": "LlamaTokenizer"})");
      }
      json cfg = json::parse(std::ifstream(hf + "/config.json"));
      CHECK(cfg.at("model_type") == f.cfg.architecture);
      for (auto it = f.extra.begin(); it != f.extra.end(); ++it) cfg[it.key()] = it.value();
      write_text(hf + "/config.json", cfg.dump(2));
    };
    const std::string hf = dir + "/hf", hf_bf16 = dir + "/hf_bf16";
    write_hf(hf, DType::F32);
    write_hf(hf_bf16, DType::BF16);

    // The GGUF file of the same weights with the vocabulary embedded.
    const std::string gguf = dir + "/m.gguf", gguf_q8 = dir + "/m_q8_0.gguf";
    for (const auto& [path, dt] : {std::pair{gguf, DType::F32}, std::pair{gguf_q8, DType::Q8_0}}) {
      if (f.kind == "bpe") {
        const EmbeddedVocab v = gguf_vocab_of(toks + f.tok_dir + "/tokenizer.json", f);
        write_gguf(m, path, dt, 3, &v);
        add_bpe_keys(path, v);
      } else {
        // The Llama-2 SentencePiece vocabulary as llama.cpp embeds it (same pieces as tokenizer.model).
        const Model tiny = load_model(shared_data() + "/models/llama-2-tiny-random.gguf");
        write_gguf(m, path, dt, 3, &tiny.vocab);
      }
    }

    std::map<std::string, Stored> stored;
    for (const std::string& path : {hf, gguf, hf_bf16, gguf_q8}) {
      const bool is_gguf = path == gguf || path == gguf_q8;
      const bool typed = path == hf_bf16 || path == gguf_q8;  // held as stored in bf16 / q8_0
      INFO((is_gguf ? "GGUF " : "HF dir ") << path);
      // llama.cpp's converter writes Mistral as `llama` without a sliding window (GGUF has no key for
      // it), so the GGUF file is scored with full attention.
      RefModel r = rm;
      if (is_gguf) r.c.sliding_window = 0;
      // BF16 / Q8_0: the reference runs on the weights as stored (dequantized by load_f32).
      if (path == hf_bf16 || path == gguf_q8) r = RefModel(f32_copy(load_model(path)));

      // tokenize: the ids eebench scores for the first prompt = BOS policy + the reference ids.
      auto t = run_cmd("tokenize -m " + q(path) + " --text " + sh(docs[0].context) + " --json");
      INFO(t.output);
      REQUIRE(t.status == 0);
      const json tj = json::parse(t.output);
      CHECK(tj.at("ids").get<std::vector<int32_t>>() == with_bos(f.bos, ctx_ids[0]));
      CHECK(tj.at("add_bos") == (f.bos >= 0));
      CHECK(tj.at("kind") == f.kind);
      if (f.bos >= 0) CHECK(tj.at("pieces").at(0) == f.bos_piece);

      // run: every stored log-likelihood equals the reference on the reference ids.
      const std::string db = path + ".db";
      auto run = run_cmd("run -m " + q(path) + " -t sst2 -s full -d " + q(data) + " --limit " +
                         std::to_string(kDocs) + " --reps 0 --warmup 0 --db " + q(db));
      INFO(run.output);
      REQUIRE(run.status == 0);
      const Stored s = read_db(db);
      REQUIRE(s.loglik.size() == static_cast<size_t>(kDocs));
      CHECK(s.tokenizer.at("kind") == f.kind);
      CHECK(s.tokenizer.at("add_bos") == (f.bos >= 0));
      // "BOS <piece> ...: why" or "no BOS: why" (tokenizer/*.cpp set_bos_policy).
      const std::string policy = s.tokenizer.at("bos_policy");
      INFO("bos_policy " << policy);
      CHECK(policy.rfind(f.bos >= 0 ? "BOS " + f.bos_piece : "no BOS", 0) == 0);
      for (int i = 0; i < kDocs; ++i) {
        REQUIRE(s.loglik[i].size() == full_ids[i].size());
        const size_t n_ctx = with_bos(f.bos, ctx_ids[i]).size();
        for (size_t c = 0; c < full_ids[i].size(); ++c) {
          const double want = ref_loglik(r, with_bos(f.bos, full_ids[i][c]), n_ctx);
          INFO("doc " << i << " choice " << c << " stored " << s.loglik[i][c] << " reference " << want);
          // F32 files: float32 arithmetic, 1e-4 relative. BF16 / Q8_0 held as stored: the prefill GEMMs
          // round the activations (and Q8_0 tiles) to bf16 (2^-9 relative each, docs/PERF.md), an error
          // that grows with the logits. These random models score about -30 nats per choice (a
          // trained model: a few nats), so the bound is 0.02 nats plus 2^-8 of the value; the 0.02-nat
          // bound at a trained model's scale is tests/cpu/test_weights_as_stored.cpp's.
          CHECK(std::abs(s.loglik[i][c] - want) <= (typed ? 0.02 + std::abs(want) / 256 : 1e-4 * std::abs(want)));
        }
      }
      stored[path] = s;

      // logits: tokens as above; each layer's top-3 probabilities equal the reference logit lens.
      auto lg = run_cmd("logits -m " + q(path) + " --prompt " + sh(docs[1].context) + " --top 3 --json");
      INFO(lg.output.substr(0, 2000));
      REQUIRE(lg.status == 0);
      const json lj = json::parse(lg.output);
      const auto tokens = with_bos(f.bos, ctx_ids[1]);
      CHECK(lj.at("tokens").get<std::vector<int32_t>>() == tokens);
      const int n = static_cast<int>(tokens.size()), V = f.cfg.vocab_size;
      const auto hs = ref_hiddens(r, tokens, all_layers(f.cfg.n_layers));
      REQUIRE(lj.at("layers").size() == static_cast<size_t>(f.cfg.n_layers));
      for (int l = 1; l <= f.cfg.n_layers; ++l) {
        const Vec row = ref_logits(r, hs[l], n);
        for (const auto& e : lj.at("layers")[l - 1].at("top")) {
          const double p = std::exp(ref_logprob(row, V, n - 1, e.at("id").get<int>()));
          INFO("layer " << l << " id " << e.at("id") << " prob " << e.at("prob") << " reference " << p);
          if (typed)  // bf16 rounding of logits of size ~30 (random tied embeddings): ~0.06 nats each
            CHECK(std::abs(std::log(e.at("prob").get<double>()) - std::log(p)) <= 0.1);
          else
            CHECK(std::abs(e.at("prob").get<double>() - p) <= 1e-4 * p);
        }
      }
    }

    // HF dir and GGUF: the same scores (Mistral's GGUF has no window: only where the HF dir has none).
    if (f.cfg.sliding_window == 0) {
      for (int i = 0; i < kDocs; ++i)
        for (size_t c = 0; c < stored[hf].loglik[i].size(); ++c) {
          const double a = stored[hf].loglik[i][c], b = stored[gguf].loglik[i][c];
          INFO("doc " << i << " choice " << c << " HF " << a << " GGUF " << b);
          CHECK(std::abs(a - b) <= 1e-5 * std::abs(a));
        }
    }
    CHECK(stored[hf].tokenizer.at("kind") == stored[gguf].tokenizer.at("kind"));
    CHECK(stored[hf].tokenizer.at("add_bos") == stored[gguf].tokenizer.at("add_bos"));
    fs::remove_all(dir);
  }
}

}  // namespace

TEST_CASE("HF dir and GGUF of Llama-3 (rope_scaling llama3 / tokenizer.json): run logits tokenize", "[cli][arch]") {
  SKIP_WITHOUT_DATA();
  check_family("llama3");
}

TEST_CASE("HF dir and GGUF of Llama-3.2 (llama3 scaling / tied embeddings): run logits tokenize", "[cli][arch]") {
  SKIP_WITHOUT_DATA();
  check_family("llama3.2-tied");
}

TEST_CASE("HF dir and GGUF of Qwen2.5 (q/k/v bias / tied / vocab > tokenizer): run logits tokenize", "[cli][arch]") {
  SKIP_WITHOUT_DATA();
  check_family("qwen2");
}

TEST_CASE("HF dir and GGUF of Qwen3 (q/k norm / head_dim != hidden / heads): run logits tokenize", "[cli][arch]") {
  SKIP_WITHOUT_DATA();
  check_family("qwen3");
}

TEST_CASE("HF dir and GGUF of Mistral (sliding window 8 / Llama-2 SentencePiece): run logits tokenize", "[cli][arch]") {
  SKIP_WITHOUT_DATA();
  check_family("mistral");
}

TEST_CASE("HF dir and GGUF of Mistral v0.2+ (sliding_window null): run logits tokenize", "[cli][arch]") {
  SKIP_WITHOUT_DATA();
  check_family("mistral-no-window");
}
