// Run-spec files: a human-written TOML description of a sweep, expanded into a RunSpec.
//
//   [run]                      # run-wide settings (all optional)
//   backend = "cpu"            # dtype, db, data, reps, warmup, seed, threads, max_new_tokens,
//   reps = 3                   # isolate, timeout_s, memory_limit_mb
//   [[model]]                  # one or more: path = "dir|file.gguf|file.bin" or hub = "org/name[@rev]"
//   path = "models/sst-lm-12L" #   (+ tokenizer)
//   [[task]]                   # one or more: name (+ data, split, shots, limit, subjects, max_new_tokens)
//   name = "sst2"
//   [[strategy]]               # one or more: name (+ params = {...}, sweep = {key = [values] | "a:b"},
//   name = "adainfer"          #   tasks = ["sst2"] to run on some tasks only)
//   sweep = { threshold = [0.0, 0.5] }
//
// Expansion order: models, then tasks, then strategies, then the cartesian product of the sweep
// (keys in file order). Relative paths (model path, tokenizer, data, db) are relative to the spec
// file's folder. Every error names the file and line: "nightly.toml:12:3: unknown key 'repz'".
// docs/SPECS.md has the full reference.
#pragma once
#include <set>
#include <string>

#include "harness/run_spec.h"

namespace eeb {

// Reads and expands `path`. Settings in `cli` whose names are in `given` (e.g. "db", "reps") were
// set on the command line and override the file's.
RunSpec load_spec_file(const std::string& path, const RunArgs& cli, const std::set<std::string>& given);

// The same from text (for tests and fuzzing); `name` is used in error messages and `base_dir`
// resolves relative paths.
RunSpec parse_spec(const std::string& text, const std::string& name, const std::string& base_dir,
                   const RunArgs& cli, const std::set<std::string>& given);

}  // namespace eeb
