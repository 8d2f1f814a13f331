// Running the eebench binary from tests.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace eeb::testing {

inline std::string eebench_bin() {
  if (const char* e = std::getenv("EEBENCH_BIN")) return e;
  return std::string(EEB_BINARY_DIR) + "/eebench";
}

struct CmdResult {
  int status = -1;     // exit code; 128 + signal if killed
  std::string output;  // stdout + stderr
};

inline CmdResult run_cmd(const std::string& args) {
  CmdResult r;
  std::string cmd = eebench_bin() + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

inline std::string temp_dir(const std::string& tag) {
  auto d = std::filesystem::temp_directory_path() / ("eeb_" + tag + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

inline std::string q(const std::string& s) { return "'" + s + "'"; }

}  // namespace eeb::testing
