// Tokenizer throughput on the texts eebench encodes (one encode() call per document, one thread):
//   BM_encode/<tokenizer>/sst2_train: the 67,349 SST-2 train sentences (datasets/sst2/train.tsv)
//   BM_encode/<tokenizer>/mmlu_test:  every line of the 57 MMLU test files (datasets/mmlu/test/*.csv)
// for llama2 (SentencePiece tokenizer.model), llama3, qwen3 and gpt2 (tokenizer.json byte-level BPE).
// bytes_per_second is the figure docs/PERF.md compares with Hugging Face `tokenizers`
// (bench/hf_tokenizers_bench.js runs the same texts through its Node binding).
// Data: $EEBENCH_TEST_DATA, else ../../shared/data next to this binary (build/ of a checkout).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;

namespace {

std::string data_dir() {
  if (const char* e = std::getenv("EEBENCH_TEST_DATA")) return e;
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "../shared/data";
  return (fs::path(std::string(buf, static_cast<size_t>(n))).parent_path() / "../../shared/data").string();
}

std::vector<std::string> sst2_train(const std::string& d) {
  std::ifstream f(d + "/datasets/sst2/train.tsv");
  std::vector<std::string> out;
  std::string line;
  std::getline(f, line);  // header
  while (std::getline(f, line))
    if (auto tab = line.rfind('\t'); tab != std::string::npos) out.push_back(line.substr(0, tab));
  return out;
}

std::vector<std::string> mmlu_test(const std::string& d) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(d + "/datasets/mmlu/test", ec))
    if (e.path().extension() == ".csv") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<std::string> out;
  for (const auto& p : files) {
    std::ifstream f(p);
    for (std::string line; std::getline(f, line);) out.push_back(line);
  }
  return out;
}

void BM_encode(benchmark::State& st, const std::string& tok_path, const std::vector<std::string>* texts) {
  if (texts->empty()) return st.SkipWithError("no texts (set EEBENCH_TEST_DATA)");
  std::unique_ptr<eeb::Tokenizer> t;
  try {
    t = eeb::load_tokenizer(tok_path);
  } catch (const std::exception& e) {
    return st.SkipWithError(e.what());
  }
  size_t bytes = 0, tokens = 0;
  for (const auto& s : *texts) bytes += s.size();
  for (auto _ : st) {
    tokens = 0;
    for (const auto& s : *texts) tokens += t->encode(s).size();
    benchmark::DoNotOptimize(tokens);
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * bytes));
  st.counters["texts"] = static_cast<double>(texts->size());
  st.counters["tokens"] = static_cast<double>(tokens);
  st.counters["MB"] = static_cast<double>(bytes) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string d = data_dir();
  static const std::vector<std::string> sst2 = sst2_train(d), mmlu = mmlu_test(d);
  const std::vector<std::pair<std::string, std::string>> toks = {
      {"llama2", d + "/tokenizers/llama2/tokenizer.model"},
      {"llama3", d + "/tokenizers/llama3"},
      {"qwen3", d + "/tokenizers/qwen3"},
      {"gpt2", d + "/tokenizers/gpt2"}};
  for (const auto& [name, path] : toks) {
    benchmark::RegisterBenchmark(("BM_encode/" + name + "/sst2_train").c_str(), BM_encode, path, &sst2)
        ->Unit(benchmark::kMillisecond)->MinTime(1.0);
    benchmark::RegisterBenchmark(("BM_encode/" + name + "/mmlu_test").c_str(), BM_encode, path, &mmlu)
        ->Unit(benchmark::kMillisecond)->MinTime(1.0);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
