// The layering of docs/ARCHITECTURE.md, checked on the source tree: a lower folder never includes a
// higher one (a strategy that reached into harness/ or a backend into strategies/ fails here).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

namespace fs = std::filesystem;

namespace {

// Folders each folder may include (besides itself).
const std::map<std::string, std::set<std::string>> kAllowed = {
    {"core", {}},
    {"model", {"core"}},
    {"tokenizer", {"core", "model"}},
    {"backends", {"core", "model"}},
    {"tasks", {"core", "model", "tokenizer"}},
    {"results", {"core"}},
    {"strategies", {"core", "model", "tokenizer", "backends", "tasks"}},
    {"reports", {"core", "results"}},
};

}  // namespace

TEST_CASE("no folder includes a folder above it") {
  const fs::path root = EEB_SOURCE_DIR;
  const std::regex inc(R"re(^\s*#\s*include\s+"([a-z_]+)/)re");
  int files = 0;
  for (const auto& [folder, allowed] : kAllowed) {
    for (const auto& e : fs::recursive_directory_iterator(root / folder)) {
      const auto ext = e.path().extension();
      if (ext != ".h" && ext != ".cpp" && ext != ".cu" && ext != ".cuh") continue;
      ++files;
      std::ifstream f(e.path());
      std::string line;
      int n = 0;
      while (std::getline(f, line)) {
        ++n;
        std::smatch m;
        if (!std::regex_search(line, m, inc)) continue;
        const std::string target = m[1];
        if (target == folder || (!kAllowed.count(target) && target != "harness")) continue;
        INFO(fs::relative(e.path(), root).string() << ":" << n << ": " << line);
        CHECK(allowed.count(target) == 1);
      }
    }
  }
  CHECK(files > 50);
}
