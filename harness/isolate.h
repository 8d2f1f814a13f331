// Isolated trials (`eebench run --isolate`): each planned trial runs in a child eebench process
// (`eebench run --resume RUN --trial-index K`, started with Boost.Process) under a wall-clock timeout
// and an address-space limit. The child commits its own samples; a crash, timeout or out-of-memory
// death is recorded on the planned trial (exit status, last lines of its stderr) and the run goes on.
#pragma once
#include <string>
#include <vector>

#include "harness/run_spec.h"
#include "results/store.h"

namespace eeb {

// Runs p in a child process and records how it ended in p (and in the store).
void run_isolated(ResultStore& store, int64_t run_id, const RunSpec& spec, PlannedTrial& p);

// Output of a short helper program (lscpu, nvidia-smi), run through Boost.Process with a timeout;
// empty when it is not installed, fails or takes too long.
std::string program_output(const std::string& program, const std::vector<std::string>& args,
                           double timeout_s = 10);

}  // namespace eeb
