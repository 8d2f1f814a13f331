// Paper targets: published numbers (reports/papers.toml, built into eebench) and their comparison
// with a measured run, row by row, for `eebench reproduce <paper>`.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "results/store.h"

namespace eeb {

struct Paper {
  std::string id, title, source;
  std::vector<std::string> models;  // hub ids the paper used
  std::string spec_toml;            // its run spec without [[model]], as TOML text
  std::vector<TargetRow> targets;
};

struct PaperTargets {
  std::string version;
  std::vector<Paper> papers;
  const Paper& paper(const std::string& id) const;  // Error listing the known ids
};

// Parses a targets file; errors name `name` and the line.
PaperTargets parse_paper_targets(const std::string& text, const std::string& name);
const char* builtin_paper_targets();  // the text of reports/papers.toml this eebench was built with

// One target row next to what the run measured.
struct TargetOutcome {
  TargetRow row;
  std::optional<double> measured;  // numeric metrics
  std::string measured_text;       // what is printed (e.g. a removed-layer list)
  std::string verdict;             // pass | fail | not run
  std::string why;                 // for "not run", or how the value was formed
  bool different_model = false;    // the run's model is not the row's
};

struct MeasuredTrial {
  TrialRow row;
  std::vector<MetricRow> metrics;
};

// `model_id` names the run's model as the paper would (hub id); rows on other models are labelled.
// `planned`: the run's expansion, to say why a row has no trial (its planned trial failed: the error).
std::vector<TargetOutcome> evaluate_targets(const std::vector<TargetRow>& rows, const std::vector<MeasuredTrial>& trials,
                                            const std::string& model_id,
                                            const std::vector<PlannedTrial>& planned = {});

// The side-by-side table (Markdown, aligned for terminals).
std::string targets_table(const Paper& paper, const std::string& version, const std::vector<TargetOutcome>& out,
                          const std::string& model_id);

}  // namespace eeb
