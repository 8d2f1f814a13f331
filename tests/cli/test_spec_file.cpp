// Run-spec files: expansion, overrides, depth-relative parameters and errors that name file and line.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "harness/spec_file.h"

using namespace eeb;
using nlohmann::json;

namespace {

RunSpec parse(const std::string& text, const std::set<std::string>& given = {}, RunArgs cli = {}) {
  return parse_spec(text, "t.toml", "/specs", cli, given);
}

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

const char* kBase = R"(
[[model]]
path = "m1"
[[task]]
name = "sst2"
[[strategy]]
name = "full"
)";

}  // namespace

TEST_CASE("spec expansion: models x tasks x strategies x sweep, in file order", "[spec]") {
  auto s = parse(R"(
[run]
reps = 5
db = "out/r.db"
data = "/abs/data"
[[model]]
path = "models/a"
[[model]]
hub = "org/b@v1"
tokenizer = "tok.model"
[[task]]
name = "sst2"
limit = 10
[[task]]
name = "mmlu"
subjects = ["anatomy"]
shots = 0
[[strategy]]
name = "full"
[[strategy]]
name = "static"
sweep = { layer = "2:4" }
[[strategy]]
name = "lesion"
params = { op = "swap" }
sweep = { layer = [1, 2] }
tasks = ["sst2"]
)");
  CHECK(s.args.reps == 5);
  CHECK(s.args.db == "/specs/out/r.db");
  // 2 models x (sst2: 1 + 3 + 2, mmlu: 1 + 3) = 20 trials.
  REQUIRE(s.trials.size() == 20);
  const auto& t0 = s.trials[0];
  CHECK(t0.model == "/specs/models/a");
  CHECK(t0.task == "sst2");
  CHECK(t0.limit == 10);
  CHECK(t0.data == "/abs/data");
  CHECK(t0.strategy == "full");
  CHECK(s.trials[1].params == json{{"layer", 2}});
  CHECK(s.trials[3].params == json{{"layer", 4}});
  CHECK(s.trials[4].params == json{{"op", "swap"}, {"layer", 1}});
  CHECK(s.trials[6].task == "mmlu");
  CHECK(s.trials[6].subjects == std::vector<std::string>{"anatomy"});
  CHECK(s.trials[6].shots == 0);
  CHECK(s.trials[10].model == "org/b@v1");  // hub ids are not paths
  CHECK(s.trials[10].tokenizer == "/specs/tok.model");
  for (const auto& t : s.trials)
    if (t.task == "mmlu") CHECK(t.strategy != "lesion");
  CHECK(s.file["run"]["reps"] == 5);  // the file itself is kept for the record
  // The stored form round-trips.
  auto back = RunSpec::from_json(s.to_json());
  REQUIRE(back.trials.size() == s.trials.size());
  for (size_t i = 0; i < s.trials.size(); ++i) CHECK(back.trials[i].to_json() == s.trials[i].to_json());
}

TEST_CASE("spec: settings named on the command line win over the file", "[spec]") {
  RunArgs cli;
  cli.reps = 1, cli.db = "cli.db", cli.limit = 3;
  auto s = parse(std::string("[run]\nreps = 9\ndb = \"f.db\"\n") + kBase, {"reps", "limit"}, cli);
  CHECK(s.args.reps == 1);
  CHECK(s.args.db == "/specs/f.db");  // not given: the file's
  CHECK(s.trials[0].limit == 3);
}

TEST_CASE("spec errors name the file, line and column", "[spec]") {
  CHECK(error_of("repz = 3\n" + std::string(kBase)) ==
        "t.toml:1:1: unknown key 'repz' in the spec (known: run, model, task, strategy)");
  CHECK(error_of(std::string(kBase) + "repz = 3\n") ==
        "t.toml:8:1: unknown key 'repz' in [[strategy]] (known: name, params, sweep, tasks)");
  CHECK_THAT(error_of("[run]\nreps = \"three\"\n" + std::string(kBase)),
             Catch::StartsWith("t.toml:2:8: reps must be an integer"));
  CHECK_THAT(error_of("[run]\nreps = -1\n" + std::string(kBase)), Catch::StartsWith("t.toml:2:8: reps = -1 is out of range"));
  CHECK_THAT(error_of("[[model]]\npath = \"a\"\n[[task]]\nname = \"nope\"\n[[strategy]]\nname = \"full\"\n"),
             Catch::StartsWith("t.toml:4:8: ") && Catch::Contains("nope"));
  CHECK_THAT(error_of(std::string(kBase) + "[[strategy]]\nname = \"static\"\nparams = { layr = 2 }\n"),
             Catch::StartsWith("t.toml:8:1: ") && Catch::Contains("layr"));
  CHECK_THAT(error_of("[[model]]\npath = \"a\"\nhub = \"b/c\"\n[[task]]\nname = \"sst2\"\n[[strategy]]\nname = \"full\"\n"),
             Catch::StartsWith("t.toml:1:1: [[model]] needs exactly one of"));
  CHECK_THAT(error_of("[[task]]\nname = \"sst2\"\n[[strategy]]\nname = \"full\"\n"),
             Catch::Contains("no [[model]] section"));
  CHECK_THAT(error_of(std::string(kBase) + "[[strategy]]\nname = \"static\"\nsweep = { layer = [] }\n"),
             Catch::StartsWith("t.toml:10:19: sweep.layer has no values"));
  CHECK_THAT(error_of(std::string(kBase) + "[[strategy]]\nname = \"static\"\nsweep = { layer = \"4:2\" }\n"),
             Catch::StartsWith("t.toml:10:19: ") && Catch::Contains("range"));
  CHECK_THAT(error_of("[[model]\npath = 1\n"), Catch::StartsWith("t.toml:1:"));  // TOML syntax, with position
  CHECK(error_of(std::string(kBase) + "[[strategy]]\nname = \"static\"\nparams = { layer = 1979-05-27 }\n") ==
        "t.toml:10:20: dates and times are not valid here");
  CHECK_THAT(error_of(std::string(kBase) + "[[strategy]]\nname = \"static\"\nparams = { layer = 2 }\ntasks = [\"mmlu\"]\n"),
             Catch::StartsWith("t.toml:11:9: tasks: 'mmlu' is not one of"));
  CHECK_THAT(error_of(std::string(kBase) + "[[strategy]]\nname = \"static\"\nsweep = { layer = \"0:100000\" }\n"
                                           "[[strategy]]\nname = \"static\"\nsweep = { layer = \"0:100000\" }\n"),
             !Catch::Contains("no error"));  // 200002 trials: refused, not allocated
}

TEST_CASE("spec files: missing file is one error line naming it", "[spec]") {
  CHECK_THROWS_WITH(load_spec_file("/nonexistent/x.toml", RunArgs{}, {}),
                    Catch::StartsWith("/nonexistent/x.toml") && Catch::Contains("cannot open"));
}

TEST_CASE("depth-relative parameters resolve against the model's depth", "[spec]") {
  CHECK(resolve_depth_params({{"n", "depth*0.28125"}, {"op", "swap"}}, 32) == json{{"n", 9}, {"op", "swap"}});
  CHECK(resolve_depth_params({{"n", "depth*0.25"}}, 40) == json{{"n", 10}});
  CHECK(resolve_depth_params({{"n", "depth*0.25"}}, 12) == json{{"n", 3}});
  CHECK(resolve_depth_params({{"n", "depth*0.01"}}, 12) == json{{"n", 1}});   // at least one layer
  CHECK(resolve_depth_params({{"n", "depth*0.99"}}, 12) == json{{"n", 11}});  // never all of them
  CHECK_THROWS_WITH(resolve_depth_params({{"n", "depth*1.5"}}, 12), Catch::Contains("0 < F < 1"));
  CHECK_THROWS_WITH(resolve_depth_params({{"n", "depth*x"}}, 12), Catch::Contains("depth*F"));
  // A spec may use them wherever the strategy takes an integer.
  auto s = parse(std::string(kBase) + "[[strategy]]\nname = \"shortgpt\"\nsweep = { n = [\"depth*0.25\", 2] }\n");
  CHECK(s.trials.back().params == json{{"n", 2}});
  CHECK(s.trials[1].params == json{{"n", "depth*0.25"}});
}
