// Seed corpus for the fuzz targets: eeb_fuzz_corpus OUT_DIR [SHARED_DATA]
//
// Writes OUT_DIR/<target>/ with small valid inputs of every format (tiny models written here with
// tests/model_writers.h, matching the fixed companion files of fuzz_util.h) plus, when SHARED_DATA is
// given, the heads of the shared test files (truncated copies: large files are never copied whole).
// Run time only: the corpus lives under /tmp and is never committed.
#include <cstdio>
#include <fstream>
#include <iterator>

#include "fuzz/fuzz_util.h"
#include "tests/model_writers.h"
#include "tests/random_model.h"
#include "tests/tokenizer/tokenizer_json_builder.h"

namespace fs = std::filesystem;
using namespace eeb;
using namespace eeb::testing;

namespace {

// The first `max_bytes` bytes of a file, cut back to the last complete line when `lines`.
std::string head(const fs::path& p, size_t max_bytes, bool lines) {
  std::ifstream f(p, std::ios::binary);
  std::string s(max_bytes, '\0');
  f.read(s.data(), static_cast<std::streamsize>(max_bytes));
  s.resize(static_cast<size_t>(f.gcount()));
  if (lines && s.size() == max_bytes && s.rfind('\n') != std::string::npos) s.resize(s.rfind('\n') + 1);
  return s;
}

EmbeddedVocab tiny_vocab(int n) {
  EmbeddedVocab v;
  v.tokens = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "\xe2\x96\x81H", "ello", "\xe2\x96\x81world"};
  for (char c = 'a'; static_cast<int>(v.tokens.size()) < n; ++c) v.tokens.push_back(std::string(1, c));
  for (int i = 0; i < n; ++i) {
    v.scores.push_back(-float(i));
    v.types.push_back(i == 0 ? 2 : i < 3 ? 3 : 1);  // no byte pieces: byte fallback needs all 256
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR [SHARED_DATA]\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1];
  for (const char* t : {"safetensors", "hf_config", "gguf", "llama2c", "sst2", "mmlu", "generation", "task_spec", "template", "tokenizer_json"})
    fs::create_directories(out / t);
  const ModelConfig cfg = fuzz::tiny_config();
  const Model m = random_model(cfg, 7);
  for (DType dt : {DType::F32, DType::F16, DType::BF16})
    write_safetensors(m, (out / "safetensors" / (std::string("tiny_") + dtype_name(dt))).string(), dt);
  fuzz::write_file(out / "hf_config" / "tiny.json", hf_config_json(cfg).dump(2));
  ModelConfig mistral = cfg;
  mistral.architecture = "mistral", mistral.tied_embeddings = true;
  fuzz::write_file(out / "hf_config" / "mistral_tied.json", hf_config_json(mistral).dump());

  const EmbeddedVocab vocab = tiny_vocab(cfg.vocab_size);
  write_gguf(m, (out / "gguf" / "tiny_f32_v3").string(), DType::F32, 3, &vocab);
  write_gguf(m, (out / "gguf" / "tiny_bf16_v2").string(), DType::BF16, 2);
  ModelConfig wide = testing::tiny_config(1, 32, 4, 2, 64, 32);  // rows of 32: real Q8_0 blocks
  write_gguf(random_model(wide, 8), (out / "gguf" / "tiny_q8_0").string(), DType::Q8_0, 3, &vocab);
  write_llama2c(m, (out / "llama2c" / "tiny_legacy").string());
  ModelConfig tied = cfg;
  tied.tied_embeddings = true;
  write_llama2c(random_model(tied, 9), (out / "llama2c" / "tiny_shared").string());

  fuzz::write_file(out / "sst2" / "small.tsv", "sentence\tlabel\nit 's a charming journey . \t1\nunfunny and lame \t0\n");
  fuzz::write_file(out / "mmlu" / "headed.csv",
                   "question,choice0,choice1,choice2,choice3,answer\n\"What is 1+1?\",1,2,3,4,1\n"
                   "\"Quote \"\"this\"\",\nand that\",a,b,c,d,3\n");
  fuzz::write_file(out / "mmlu" / "headerless.csv", "Which organ pumps blood?,Heart,Liver,Lung,Skin,A\r\n");
  fuzz::write_file(out / "generation" / "mixed.jsonl",
                   "{\"prompt\": \"Once upon a time\", \"reference\": \"there was\"}\n\n"
                   "{\"article\": \"A \\\"b\\\" \\u00e9\", \"highlights\": \"c\", \"document\": \"d\", \"summary\": \"e\"}\n");

  fuzz::write_file(out / "task_spec" / "fewshot.yaml",
                   "task: t\ndataset:\n  test: d/test.jsonl\n  train: d/train.csv\ntest_split: test\n"
                   "training_split: train\ndescription: \"D {{q}}\\n\"\ndoc_to_text: \"Q: {{q.strip()}}\"\n"
                   "doc_to_choice: [\"no\", \"yes\"]\ndoc_to_target: a\nfewshot_config:\n  sampler: first_n\n"
                   "num_fewshot: 1\nmetric_list:\n  - metric: acc\nmetadata:\n  version: 1.0\n");
  fuzz::write_file(out / "task_spec" / "partial.yaml",
                   "task: p\ndataset: {test: d/test.jsonl}\ntest_split: test\ndoc_to_text: a\n"
                   "doc_to_choice: \"{% set t = q %}{{[t + l[0], t + l[1]]}}\"\ndoc_to_target: \"{{c['text']|join(', ')}}\"\n");
  // A group (members d/test.jsonl and a missing one), a split's second name and the row keys.
  fuzz::write_file(out / "task_spec" / "group.yaml",
                   "task: g\ngroup:\n  dataset_names: [test, nosuch]\n  aggregate_metric_list:\n    - metric: acc\n"
                   "      weight_by_size: true\ndataset:\n  test: \"d/{{dataset_name}}.jsonl\"\n  dev: test\n"
                   "test_split: test\nfewshot_split: dev\nfewshot_config:\n  sampler: first_n\ndataset_columns: [q, a]\n"
                   "doc_fields:\n  l2: \"{{[q, q ~ '!']}}\"\nrow_index_field: idx\ndescription: \"{{dataset_name}}: \"\n"
                   "doc_to_text: \"{{q}}\"\ndoc_to_choice: l2\ndoc_to_target: a\nmetric_list:\n  - metric: acc\n");
  fuzz::write_file(out / "template" / "mixed.txt",
                   "{% for w in words %}{{loop.index}}{{w|upper}}{% if not loop.last %}, {% endif %}{% endfor %}"
                   "{{passage[:3]}} {{choices['text'][label]}} {{question.strip()}} {{[n, ok, none]}}");
  fuzz::write_file(out / "run_spec" / "sweep.toml",
                   "[run]\nreps = 3\ndb = \"r.db\"\ndata = \"data\"\nisolate = true\ntimeout_s = 60.5\n"
                   "[[model]]\npath = \"m\"\n[[model]]\nhub = \"org/name@main\"\ntokenizer = \"t.model\"\n"
                   "[[task]]\nname = \"sst2\"\nlimit = 10\n[[task]]\nname = \"mmlu\"\nsubjects = [\"anatomy\"]\nshots = 5\n"
                   "[[strategy]]\nname = \"full\"\n[[strategy]]\nname = \"shortgpt\"\nparams = { calib_size = 8 }\n"
                   "sweep = { n = \"1:3\" }\n[[strategy]]\nname = \"lesion\"\nparams = { op = \"swap\" }\n"
                   "sweep = { layer = [\"depth*0.5\", 1] }\ntasks = [\"sst2\"]\n");
  fuzz::write_file(out / "run_spec" / "minimal.toml",
                   "[[model]]\npath = \"m\"\n[[task]]\nname = \"prompts\"\nmax_new_tokens = 8\n"
                   "[[strategy]]\nname = \"layerskip\"\nsweep = { exit_layer = [1, 2], draft = [2, 4] }\n");

  {  // tokenizer.json: GPT-2 layout; Llama-3/Qwen layout (Split regex, NFC, added tokens, BOS template)
    TokJson g;
    g.merge("h", "e"), g.merge("l", "l"), g.merge("he", "ll"), g.merge(" ", "w");
    g.added("<|endoftext|>");
    fuzz::write_file(out / "tokenizer_json" / "gpt2_style.json", g.dump());
    TokJson l;
    l.merge("a", "b"), l.merge("ab", "c"), l.token("xyz");
    const int bos = l.added("<|begin_of_text|>");
    l.added("<think>", false, true, true);
    l.j["model"]["ignore_merges"] = true;
    l.j["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFC"}}}}};
    l.j["pre_tokenizer"] = nlohmann::ordered_json::parse(R"({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": ""}, "behavior": "Isolated", "invert": false},
        {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]})");
    l.j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] =  // Llama-3's
        R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
    l.j["post_processor"] = nlohmann::ordered_json::parse(R"({"type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [)" + std::to_string(bos) + "]}}}");
    fuzz::write_file(out / "tokenizer_json" / "llama3_style.json", l.j.dump(1));
    l.j["model"]["merges"] = nlohmann::ordered_json::array({{"a", "b"}, {"ab", "c"}});  // the pair format
    fuzz::write_file(out / "tokenizer_json" / "pair_merges.json", l.dump());
  }

  if (argc > 2) {
    const fs::path d = argv[2];
    auto copy_head = [&](const fs::path& src, const fs::path& dst, size_t n, bool lines) {
      std::error_code ec;
      if (fs::is_regular_file(src, ec)) fuzz::write_file(dst, head(src, n, lines));
    };
    copy_head(d / "datasets/sst2/dev.tsv", out / "sst2" / "shared_dev_head", 2048, true);
    copy_head(d / "datasets/mmlu/test/anatomy_test.csv", out / "mmlu" / "shared_anatomy_head", 2048, true);
    copy_head(d / "datasets/mmlu/dev/abstract_algebra_dev.csv", out / "mmlu" / "shared_algebra_dev_head", 2048, true);
    copy_head(d / "models/sst-lm-12L/config.json", out / "hf_config" / "shared_sst_lm", 4096, false);
    copy_head(d / "models/llama-2-tiny-random.gguf", out / "gguf" / "shared_tiny_random_head", 16384, false);
    copy_head(d / "models/stories260K/stories260K.bin", out / "llama2c" / "shared_stories_head", 4096, false);
    copy_head(d / "tokenizers/qwen3/tokenizer.json", out / "tokenizer_json" / "shared_qwen3_head", 8192, false);
  }
  std::printf("seed corpus in %s\n", out.c_str());
  return 0;
}
