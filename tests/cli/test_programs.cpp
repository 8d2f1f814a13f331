// Other programs run through Boost.Process (harness/isolate.h): output, timeouts, absence; and the
// environment facts taken from them.
#include <catch2/catch.hpp>
#include <chrono>

#include "harness/environment.h"
#include "harness/isolate.h"
#include "tests/skip.h"

using namespace eeb;

TEST_CASE("program_output: stdout of a program, nothing for a missing, failing or slow one", "[programs]") {
  CHECK(program_output("sh", {"-c", "echo one; echo two >&2; echo three"}) == "one\nthree\n");
  CHECK(program_output("eebench-no-such-program", {}).empty());
  CHECK(program_output("sh", {"-c", "echo partial; exit 3"}).empty());
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(program_output("sleep", {"30"}, 0.5).empty());
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));  // killed, not waited for
}

TEST_CASE("the environment records lscpu's facts when lscpu is installed", "[programs]") {
  const Environment e = capture_environment("cpu", 0);
  if (program_output("lscpu", {"--json"}).empty()) {
    CHECK_FALSE(e.library_versions.contains("lscpu"));
    EEB_SKIP("lscpu not installed (util-linux)");
  }
  REQUIRE(e.library_versions.contains("lscpu"));
  const auto& cpu = e.library_versions["lscpu"];
  CHECK(cpu.contains("CPU(s)"));
  CHECK(std::stoi(cpu["CPU(s)"].get<std::string>()) >= 1);
  // nvidia-smi: present only on GPU machines; recorded exactly when it answers.
  CHECK(e.library_versions.contains("nvidia_smi") ==
        !program_output("nvidia-smi", {"--query-gpu=name", "--format=csv,noheader"}).empty());
}
