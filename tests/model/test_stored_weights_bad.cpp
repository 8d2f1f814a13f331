// Weights the backends compute from in place (memory-mapped, in their stored type): types no backend
// can hold, Q8_0 rows that are not whole blocks, files cut inside a tensor, and files changed on
// disk after they were mapped. Each is a one-line eeb::Error naming the file (and the tensor).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "core/error.h"
#include "model/model.h"
#include "tests/model_writers.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;
namespace fs = std::filesystem;

namespace {

std::string load_error(const std::string& path) {
  try {
    load_model(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// A one-tensor llama GGUF (token_embd.weight [64, cols] of ggml type `type`, `data` bytes).
std::vector<uint8_t> one_tensor_gguf(uint32_t type, int64_t cols, size_t data) {
  GgufBuilder g;
  g.header(3, 1, 6);
  g.kv_str("general.architecture", "llama");
  g.kv_u32("llama.embedding_length", 32);
  g.kv_u32("llama.feed_forward_length", 64);
  g.kv_u32("llama.block_count", 1);
  g.kv_u32("llama.attention.head_count", 4);
  g.kv_u32("llama.context_length", 128);
  g.tensor_info("token_embd.weight", {64, cols}, type, 0);
  g.pad_to(32);
  g.b.resize(g.b.size() + data);
  return g.b;
}

void check_one_line(const std::string& msg, const std::string& starts, const std::string& has) {
  INFO(msg);
  CHECK(msg.rfind(starts, 0) == 0);
  CHECK(msg.find(has) != std::string::npos);
  CHECK(msg.find('\n') == std::string::npos);
}

void set_mtime(const std::string& path, time_t sec) {
  struct timespec ts[2] = {{sec, 0}, {sec, 0}};
  REQUIRE(utimensat(AT_FDCWD, path.c_str(), ts, 0) == 0);
}

}  // namespace

TEST_CASE("tensor types no backend can hold are refused naming the type, the tensor and the file",
          "[weights][bad][stored]") {
  TempDir dir;
  const std::string p = dir / "t.gguf";
  // ggml types: 12 Q4_K, 14 Q6_K (K-quants), 24 I8, 28 F64.
  for (auto [type, name] : {std::pair{12u, "Q4_K"}, std::pair{14u, "Q6_K"}, std::pair{24u, "I8"}, std::pair{28u, "F64"}}) {
    write_bytes(p, one_tensor_gguf(type, 256, 64 * 256 * 8));
    check_one_line(load_error(p), p + ": unsupported tensor type " + std::to_string(type) + " for tensor token_embd.weight",
                   std::string("(") + name + ";");
  }
  write_bytes(p, one_tensor_gguf(99, 256, 64 * 256 * 8));
  check_one_line(load_error(p), p + ": unsupported tensor type 99", "(unknown;");
  // safetensors: integer and double tensors.
  const Model m = random_model(tiny_config(1, 32, 4, 2, 64, 64), 3);
  for (const char* dt : {"I8", "F64"}) {
    const std::string hf = dir / (std::string("hf_") + dt);
    write_hf_dir(m, hf, DType::F32);
    auto bytes = read_bytes(hf + "/model.safetensors");
    const std::string from = "\"F32\"", to = std::string("\"") + dt + "\"" + std::string(from.size() - std::strlen(dt) - 2, ' ');
    std::string text(bytes.begin(), bytes.end());
    const size_t at = text.find(from);  // the first tensor's dtype, same header length
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    write_bytes(hf + "/model.safetensors", text.data(), text.size());
    check_one_line(load_error(hf), hf + "/model.safetensors: unsupported dtype " + std::string(dt) + " for tensor ",
                   "(F32, F16 and BF16 are)");
  }
}

TEST_CASE("a Q8_0 tensor whose rows are not whole 32-value blocks is refused", "[weights][bad][stored]") {
  TempDir dir;
  const std::string p = dir / "q.gguf";
  write_bytes(p, one_tensor_gguf(8 /* Q8_0 */, 48, 64 * 48 / 32 * 34));  // 3072 values: 96 blocks, rows of 48
  check_one_line(load_error(p), p + ": Q8_0 tensor token_embd.weight has rows of 48 values",
                 "not a whole number of 32-value blocks");
}

TEST_CASE("files cut inside a mapped tensor are refused before any computation", "[weights][bad][stored]") {
  TempDir dir;
  const Model m = random_model(tiny_config(2, 32, 4, 2, 64, 64), 4);
  // GGUF (Q8_0): tensors are laid out in writer order; cutting 10 bytes lands inside the last one.
  write_gguf(m, dir / "g.gguf", DType::Q8_0);
  auto g = read_bytes(dir / "g.gguf");
  g.resize(g.size() - 10);
  write_bytes(dir / "g.gguf", g);
  check_one_line(load_error(dir / "g.gguf"), dir / "g.gguf: tensor ", "runs past the end of the file");
  // safetensors (BF16).
  write_hf_dir(m, dir / "hf", DType::BF16);
  auto s = read_bytes(dir / "hf/model.safetensors");
  s.resize(s.size() - 10);
  write_bytes(dir / "hf/model.safetensors", s);
  check_one_line(load_error(dir / "hf"), dir / "hf/model.safetensors: tensor ", "run past the end of the file");
}

TEST_CASE("a model file changed on disk while mapped is refused naming the file", "[weights][bad][stored]") {
  TempDir dir;
  const Model src = random_model(tiny_config(1, 32, 4, 2, 64, 64), 5);
  const std::string hf = dir / "hf", st = hf + "/model.safetensors";
  const std::string g = dir / "m.gguf";
  write_hf_dir(src, hf, DType::BF16);
  write_gguf(src, g, DType::Q8_0);
  auto changed = [](const Model& m) {
    try {
      m.check_files_unchanged();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("unchanged");
  };
  {
    const Model m = load_model(g);
    CHECK(changed(m) == "unchanged");
    struct stat before {};
    REQUIRE(stat(g.c_str(), &before) == 0);
    set_mtime(g, before.st_mtim.tv_sec + 5);  // rewritten in place, same size
    check_one_line(changed(m), g + ": changed on disk since it was mapped (modification time changed)", "reload");
  }
  {
    const Model m = load_model(hf);
    auto bytes = read_bytes(st);
    bytes.push_back(0);  // appended to
    write_bytes(st, bytes);
    check_one_line(changed(m), st + ": changed on disk since it was mapped (size " + std::to_string(bytes.size() - 1) +
                                   " -> " + std::to_string(bytes.size()) + " bytes)",
                   "reload");
  }
  {
    write_hf_dir(src, hf, DType::BF16);
    const Model m = load_model(hf);
    write_hf_dir(src, dir / "other", DType::BF16);
    fs::rename(dir / "other/model.safetensors", st);  // replaced by another file (same bytes)
    check_one_line(changed(m), st + ": changed on disk since it was mapped (replaced by another file)", "reload");
    fs::remove(st);
    check_one_line(changed(m), st + ": changed on disk since it was mapped (now: No such file or directory)", "reload");
  }
}

TEST_CASE("a file truncated under its mapping ends the process with a message naming the file", "[weights][bad][stored]") {
  TempDir dir;
  const std::string p = dir / "big.bin", log = dir / "stderr.txt";
  write_bytes(p, std::vector<uint8_t>(1 << 20, 7));
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {  // the child maps the file, truncates it and reads past the new end
    FILE* err = std::freopen(log.c_str(), "w", stderr);
    MappedFile f(p);
    volatile uint8_t first = f.data()[0];
    if (!err || truncate(p.c_str(), 4096) != 0) _exit(3);
    volatile uint8_t past = f.data()[1 << 19];  // SIGBUS: the page no longer exists in the file
    _exit(first + past == 0 ? 4 : 0);            // not reached
  }
  int st = 0;
  REQUIRE(waitpid(pid, &st, 0) == pid);
  CHECK(WIFSIGNALED(st));
  if (WIFSIGNALED(st)) CHECK(WTERMSIG(st) == SIGBUS);
  const auto out = read_bytes(log);
  const std::string msg(out.begin(), out.end());
  INFO(msg);
  CHECK(msg == "eebench: " + p + ": changed on disk since it was mapped (a read of its memory mapping failed: the file "
               "was truncated or rewritten in place); stopping\n");
}
