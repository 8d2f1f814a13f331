// core/: the registry lookup, parameter checks and atomic writes every layer relies on.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/params.h"
#include "core/registry.h"

namespace {
struct Entry { const char* name; int value; };
}

TEST_CASE("find_by_name returns the entry or names every known one") {
  std::vector<Entry> r = {{"full", 1}, {"oracle", 2}};
  CHECK(eeb::find_by_name(r, "oracle", "strategy").value == 2);
  try {
    eeb::find_by_name(r, "orcale", "strategy");
    FAIL("no error");
  } catch (const eeb::Error& e) {
    CHECK(std::string(e.what()) == "unknown strategy 'orcale' (known: full, oracle)");
  }
}

TEST_CASE("check_params refuses a typo and names the known keys") {
  CHECK_NOTHROW(eeb::check_params({{"tau", 0.5}}, {"tau"}, "strategy confidence"));
  try {
    eeb::check_params({{"tua", 0.5}}, {"tau"}, "strategy confidence");
    FAIL("no error");
  } catch (const eeb::Error& e) {
    CHECK(std::string(e.what()) == "strategy confidence: unknown parameter 'tua' (known: tau)");
  }
  CHECK_THROWS_AS(eeb::check_params(nlohmann::json::array(), {}, "strategy full"), eeb::Error);
}

TEST_CASE("write_file_atomic replaces the whole file and leaves no temporary behind") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("eeb_core_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "out.txt").string();
  eeb::write_file_atomic(path, "first version, longer\n");
  eeb::write_file_atomic(path, "second\n");
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  CHECK(ss.str() == "second\n");
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
  CHECK_THROWS_AS(eeb::write_file_atomic((dir / "missing" / "x").string(), "x"), eeb::Error);
  fs::remove_all(dir);
}
