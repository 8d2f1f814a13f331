// `eebench run` on hundreds of mutated model and task files (bit flips, truncations, header edits,
// text edits) of small valid files written here: every run must end by itself with an exit code
// below 128 (never a signal); a failure must be exactly one `eebench: error:` line naming the file;
// success is allowed only when the mutated file is still valid (the library loads it in-process).
#include <catch2/catch.hpp>

#include <cstring>
#include <functional>
#include <random>
#include <sstream>

#include "core/error.h"
#include "harness/loaded_model.h"
#include "tokenizer/tokenizer.h"
#include "tasks/task.h"
#include "tests/model_writers.h"
#include "tests/random_model.h"
#include "tests/safety/safety_util.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

using Bytes = std::vector<uint8_t>;

EmbeddedVocab small_vocab() { return eeb::testing::small_test_vocab(); }

// Random edits. `header` is the length of the structured prefix that most edits target.
struct Mutator {
  std::mt19937_64 rng{20240601};
  size_t pick(size_t n) { return n ? std::uniform_int_distribution<size_t>(0, n - 1)(rng) : 0; }

  Bytes binary(Bytes b, size_t header, std::string* what) {
    const size_t region = std::min(header, b.size());
    const size_t at = pick(2) ? pick(region) : pick(b.size());
    switch (pick(4)) {
      case 0: {
        const int bit = int(pick(8));
        b[at] ^= uint8_t(1u << bit);
        *what = "bit " + std::to_string(bit) + " flipped at " + std::to_string(at);
        break;
      }
      case 1: {
        const size_t n = pick(b.size());
        b.resize(n);
        *what = "truncated to " + std::to_string(n);
        break;
      }
      case 2: {  // a field overwritten with a boundary value
        static const uint64_t values[] = {0, 1, 0xff, 0x7fffffff, 0xffffffff, 0x7fffffffffffffffull, ~0ull};
        const uint64_t v = pick(2) ? values[pick(7)] : rng();
        const size_t w = size_t(1) << pick(4), pos = std::min(at, b.size() - std::min(b.size(), w));
        std::memcpy(b.data() + pos, &v, std::min(w, b.size() - pos));
        *what = std::to_string(w) + " bytes at " + std::to_string(pos) + " set to " + std::to_string(v);
        break;
      }
      default: {
        const size_t n = 1 + pick(64);
        for (size_t i = 0; i < n; ++i) b.push_back(uint8_t(rng()));
        *what = std::to_string(n) + " bytes appended";
      }
    }
    return b;
  }

  Bytes text(Bytes b, std::string* what) {
    static const char specials[] = {'\t', ',', '"', '\n', '\r', '{', '}', ':', '[', '-', '9', '\0', '\xff', ' '};
    const size_t at = pick(b.size());
    switch (pick(5)) {
      case 0:
        b.erase(b.begin() + long(at));
        *what = "byte deleted at " + std::to_string(at);
        break;
      case 1: {
        const char c = specials[pick(sizeof specials)];
        b.insert(b.begin() + long(at), uint8_t(c));
        *what = "byte " + std::to_string(int(uint8_t(c))) + " inserted at " + std::to_string(at);
        break;
      }
      case 2:
        b.resize(at);
        *what = "truncated to " + std::to_string(at);
        break;
      case 3: {  // a number made huge, negative or fractional
        size_t d = at;
        while (d < b.size() && !std::isdigit(b[d])) ++d;
        if (d == b.size()) return text(b, what);
        static const char* repl[] = {"99999999999", "-1", "0", "1e309", "2.5", "4294967296"};
        const std::string r = repl[pick(6)];
        b[d] = uint8_t(r[0]);
        b.insert(b.begin() + long(d) + 1, r.begin() + 1, r.end());
        *what = "digit at " + std::to_string(d) + " replaced by " + r;
        break;
      }
      default: {
        const int bit = int(pick(8));
        b[at] ^= uint8_t(1u << bit);
        *what = "bit " + std::to_string(bit) + " flipped at " + std::to_string(at);
      }
    }
    return b;
  }
};

// One family of mutated inputs: which file is mutated and how eebench is run on it.
struct Family {
  std::string name;
  std::string file;       // the file that gets mutated
  std::string blame;      // what the error message must contain (the file, or the model folder)
  bool binary = false;
  size_t header = 0;      // binary: bytes of structure before the tensor data
  int count = 0;
  std::string model, tokenizer, task;
};

// Lines of the output that mention an error.
std::vector<std::string> error_lines(const std::string& out) {
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);)
    if (l.find("error") != std::string::npos || l.find("Error") != std::string::npos) lines.push_back(l);
  return lines;
}

}  // namespace

TEST_CASE("eebench run on 200+ mutated model and task files fails cleanly or succeeds validly", "[safety][mutation]") {
  TempDir dir("mutated");
  const ModelConfig cfg = tiny_config(2, 16, 2, 1, 32, 64);
  const Model m = random_model(cfg, 5);
  const EmbeddedVocab vocab = small_vocab();
  const std::string hf = dir / "hf", gguf = dir / "model.gguf", l2c = dir / "model.bin", tok = hf + "/tokenizer.model";
  write_hf_dir(m, hf, DType::F32);
  write_text(tok, sentencepiece_proto_from_vocab(vocab));
  write_gguf(m, gguf, DType::F32, 3, &vocab);
  write_llama2c(m, l2c);
  const std::string data = dir / "data";
  std::filesystem::create_directories(data + "/sst2");
  std::filesystem::create_directories(data + "/mmlu/test");
  write_text(data + "/sst2/dev.tsv", "sentence\tlabel\nthe film is a gem \t1\na bore \t0\nnot bad at all \t1\n");
  write_text(data + "/mmlu/test/anatomy_test.csv",
             "question,choice0,choice1,choice2,choice3,answer\n\"Which organ, of these, pumps blood?\",heart,liver,"
             "lung,skin,0\nWhat is 2+2?,1,2,3,4,3\n");
  uint64_t st_header = 0, gguf_data = 0;
  std::memcpy(&st_header, read_bytes(hf + "/model.safetensors").data(), 8);
  for (const auto& name : tensor_names(m)) gguf_data += (m.tensor(name).nbytes + 31) / 32 * 32;
  const size_t gguf_header = read_bytes(gguf).size() - gguf_data;

  const std::vector<Family> families = {
      {"safetensors", hf + "/model.safetensors", hf, true, 8 + st_header, 40, hf, "", "sst2"},
      {"config.json", hf + "/config.json", hf, false, 0, 30, hf, "", "sst2"},
      {"gguf", gguf, gguf, true, gguf_header, 40, gguf, "", "sst2"},
      {"llama2c", l2c, l2c, true, 28, 30, l2c, tok, "sst2"},
      {"sst2 tsv", data + "/sst2/dev.tsv", data + "/sst2/dev.tsv", false, 0, 30, hf, "", "sst2"},
      {"mmlu csv", data + "/mmlu/test/anatomy_test.csv", data + "/mmlu/test/anatomy_test.csv", false, 0, 30, hf, "", "mmlu"},
  };
  const std::string db = dir / "runs.db";
  auto command = [&](const Family& f) {
    return "run -q -m " + q(f.model) + (f.tokenizer.empty() ? "" : " --tokenizer " + q(f.tokenizer)) + " -t " +
           f.task + " -d " + q(data) + " --limit 2 --reps 0 --warmup 0 --threads 1 --db " + q(db);
  };
  // The library's verdict on the current files: what the CLI does before scoring.
  auto valid = [&](const Family& f) {
    try {
      BackendOptions bo;
      bo.threads = 1;
      auto lm = load_for_backend(f.model, f.tokenizer, "cpu", bo);
      TaskOptions to;
      to.data_dir = data;
      to.limit = 2;
      return !make_task(f.task)->load(to).empty();
    } catch (const eeb::Error&) {
      return false;
    }
  };

  Mutator mut;
  int total = 0, failures = 0;
  for (const auto& f : families) {
    const Bytes original = read_bytes(f.file);
    {
      INFO(f.name << ": the unmutated files must run");
      auto r = run_cmd(command(f));
      INFO(r.output);
      REQUIRE(r.status == 0);
    }
    for (int i = 0; i < f.count; ++i, ++total) {
      std::string what;
      const Bytes bad = f.binary ? mut.binary(original, f.header, &what) : mut.text(original, &what);
      write_bytes(f.file, bad);
      const auto r = run_cmd(command(f));
      INFO(f.name << " #" << i << ": " << what << "\nexit " << r.status << "\n" << r.output);
      CHECK(r.status >= 0);
      CHECK(r.status < 128);  // not killed by a signal
      if (r.status == 0) {
        CHECK(valid(f));  // success only when the file is still valid
        continue;
      }
      ++failures;
      CHECK_FALSE(bad == original);
      const auto errors = error_lines(r.output);
      REQUIRE(errors.size() == 1);
      CHECK(errors[0].rfind("eebench: error: ", 0) == 0);
      CHECK(errors[0].find(f.blame) != std::string::npos);
    }
    write_bytes(f.file, original);
  }
  INFO(failures << " of " << total << " mutated inputs were refused");
  CHECK(total >= 200);
  CHECK(failures >= total / 3);  // the mutations really do break files
}
