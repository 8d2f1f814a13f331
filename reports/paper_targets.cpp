#include "reports/paper_targets.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "core/error.h"
#include "paper_targets_text.h"
#include "core/toml_json.h"  // generated from reports/papers.toml

namespace eeb {
using nlohmann::json;

const char* builtin_paper_targets() { return kPaperTargetsToml; }

const Paper& PaperTargets::paper(const std::string& id) const {
  std::string known;
  for (const auto& p : papers) {
    if (p.id == id) return p;
    known += (known.empty() ? "" : ", ") + p.id;
  }
  throw Error("no paper '" + id + "' in the targets (known: " + known + ")");
}

namespace {

struct Reader {
  std::string name;
  [[noreturn]] void fail(const toml::source_region& at, const std::string& msg) const {
    throw Error(name + ":" + std::to_string(at.begin.line) + ": " + msg);
  }
  std::string str(const toml::table& t, const char* key, bool required) const {
    const toml::node* n = t.get(key);
    if (!n) {
      if (required) fail(t.source(), std::string("missing key '") + key + "'");
      return "";
    }
    if (!n->is_string()) fail(n->source(), std::string(key) + " must be a string");
    return std::string(*n->value<std::string_view>());
  }
  std::optional<double> num(const toml::table& t, const char* key) const {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    if (!n->is_number()) fail(n->source(), std::string(key) + " must be a number");
    return *n->value<double>();
  }
};

std::string norm_model(std::string m) {
  m = m.substr(0, m.find('@'));
  std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return std::tolower(c); });
  return m;
}

bool setting_matches(const json& setting, const json& params) {
  for (const auto& [k, v] : setting.items())
    if (!params.contains(k) || params[k] != v) return false;
  return true;
}

std::optional<double> metric(const MeasuredTrial& t, const std::string& name) {
  for (const auto& m : t.metrics)
    if (m.name == name && m.group.empty()) return m.value;
  return std::nullopt;
}

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

}  // namespace

PaperTargets parse_paper_targets(const std::string& text, const std::string& name) {
  Reader rd{name};
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    rd.fail(e.source(), std::string(e.description()));
  }
  PaperTargets out;
  out.version = rd.str(root, "version", true);
  const toml::table* papers = root.get_as<toml::table>("papers");
  if (!papers) throw Error(name + ": no [papers.<id>] tables");
  for (auto&& [id, node] : *papers) {
    const auto* t = node.as_table();
    if (!t) rd.fail(node.source(), "papers." + std::string(id.str()) + " must be a table");
    Paper p;
    p.id = std::string(id.str());
    p.title = rd.str(*t, "title", true);
    p.source = rd.str(*t, "source", true);
    if (const auto* ms = t->get_as<toml::array>("models"))
      for (const auto& m : *ms)
        if (m.is_string()) p.models.emplace_back(*m.value<std::string_view>());
    const auto* spec = t->get_as<toml::table>("spec");
    if (!spec) rd.fail(t->source(), "papers." + p.id + " has no [papers." + p.id + ".spec]");
    std::ostringstream os;
    os << *spec;
    p.spec_toml = os.str();
    const auto* rows = t->get_as<toml::array>("target");
    if (!rows || !rows->is_array_of_tables()) rd.fail(t->source(), "papers." + p.id + " has no [[target]] rows");
    std::set<std::string> keys;
    for (const auto& rn : *rows) {
      const auto& r = *rn.as_table();
      TargetRow row;
      row.paper = p.id, row.version = out.version, row.source = p.source;
      row.row_key = rd.str(r, "key", true);
      if (!keys.insert(row.row_key).second) rd.fail(r.source(), "duplicate target key '" + row.row_key + "'");
      row.model = rd.str(r, "model", true);
      row.task = rd.str(r, "task", true);
      row.metric = rd.str(r, "metric", true);
      row.text_value = rd.str(r, "text_value", false);
      row.note = rd.str(r, "note", false);
      row.value = rd.num(r, "value"), row.lower = rd.num(r, "lower"), row.upper = rd.num(r, "upper");
      row.setting = {{"strategy", rd.str(r, "strategy", true)}, {"params", json::object()}};
      if (const toml::node* s = r.get("setting")) {
        if (!s->is_table()) rd.fail(s->source(), "setting must be a table of strategy parameters");
        row.setting["params"] = toml_to_json(*s, [&](const toml::node& bad) {
          rd.fail(bad.source(), "dates and times are not valid in a setting");
        });
      }
      if (row.metric == "removed_layers" ? row.text_value.empty() : (!row.lower && !row.upper))
        rd.fail(r.source(), "target '" + row.row_key + "' has no accepted interval (lower/upper) or text_value");
      p.targets.push_back(std::move(row));
    }
    out.papers.push_back(std::move(p));
  }
  if (out.papers.empty()) throw Error(name + ": no papers");
  return out;
}

std::vector<TargetOutcome> evaluate_targets(const std::vector<TargetRow>& rows, const std::vector<MeasuredTrial>& trials,
                                            const std::string& model_id, const std::vector<PlannedTrial>& planned) {
  std::vector<TargetOutcome> out;
  for (const auto& row : rows) {
    TargetOutcome o;
    o.row = row;
    o.different_model = norm_model(row.model) != norm_model(model_id);
    const std::string strategy = row.setting.value("strategy", "");
    const json params = row.setting.value("params", json::object());
    // The full-depth trial of a task (for acc_drop and acc_retained).
    auto full_acc = [&](const std::string& task) -> std::optional<double> {
      for (const auto& t : trials)
        if (t.row.task.name == task && t.row.strategy.name == "full" && t.row.status == "finished")
          return metric(t, "acc");
      return std::nullopt;
    };
    std::vector<double> per_task;
    std::vector<std::string> failures;
    // Planned trials of this row that failed before (or while) running: their errors explain a gap.
    for (const auto& p : planned) {
      const json ps = p.spec.value("params", json::object());
      if (p.status == "failed" && p.spec.value("strategy", "") == strategy && setting_matches(params, ps) &&
          (row.task == "*" || p.spec.value("task", "") == row.task))
        failures.push_back("trial failed: " + p.error);
    }
    std::set<std::string> tasks_seen;
    for (const auto& t : trials) {
      if (row.task != "*" && t.row.task.name != row.task) continue;
      if (t.row.strategy.name != strategy || !setting_matches(params, t.row.strategy.params)) continue;
      tasks_seen.insert(t.row.task.name);
      if (t.row.status != "finished") {
        failures.push_back("trial " + std::to_string(t.row.id) + " " + t.row.status);
        continue;
      }
      if (row.metric == "removed_layers") {
        std::vector<int> removed = t.row.decision.value("removed", std::vector<int>{});
        std::sort(removed.begin(), removed.end());
        std::string s;
        for (int l : removed) s += (s.empty() ? "" : ",") + std::to_string(l);
        o.measured_text = s;
        o.verdict = s == row.text_value ? "pass" : "fail";
        break;
      }
      std::optional<double> v;
      if (row.metric == "acc_drop" || row.metric == "acc_retained") {
        auto base = full_acc(t.row.task.name), acc = metric(t, "acc");
        if (!base || !acc) {
          failures.push_back("no finished full-depth trial on " + t.row.task.name);
          continue;
        }
        if (row.metric == "acc_drop") v = *base - *acc;
        else if (*base > 0) v = *acc / *base;
      } else {
        v = metric(t, row.metric);
      }
      if (v) per_task.push_back(*v);
      else failures.push_back("trial " + std::to_string(t.row.id) + " has no " + row.metric);
    }
    if (row.metric == "removed_layers") {
      if (o.verdict.empty()) {
        o.verdict = "not run";
        o.why = failures.empty() ? "no " + strategy + " trial matching " + params.dump() : failures.front();
      }
      out.push_back(std::move(o));
      continue;
    }
    if (per_task.empty()) {
      o.verdict = "not run";
      o.why = !failures.empty() ? failures.front()
              : tasks_seen.empty() && row.task != "*"
                  ? "the run has no " + strategy + " trial on " + row.task
                  : "no " + strategy + " trial matching " + params.dump();
      out.push_back(std::move(o));
      continue;
    }
    double sum = 0;
    for (double v : per_task) sum += v;
    o.measured = sum / per_task.size();
    o.measured_text = fmt(*o.measured);
    if (per_task.size() > 1) o.why = "mean of " + std::to_string(per_task.size()) + " trials";
    const bool ok = std::isfinite(*o.measured) && (!row.lower || *o.measured >= *row.lower - 1e-12) &&
                    (!row.upper || *o.measured <= *row.upper + 1e-12);
    o.verdict = ok ? "pass" : "fail";
    out.push_back(std::move(o));
  }
  return out;
}

std::string targets_table(const Paper& paper, const std::string& version, const std::vector<TargetOutcome>& out,
                          const std::string& model_id) {
  std::ostringstream os;
  os << "## " << paper.title << "\n\n";
  os << "Source: " << paper.source << ". Targets version " << version << ". Measured on: " << model_id << ".\n\n";
  std::vector<std::vector<std::string>> cells{
      {"target", "paper model", "task", "metric", "paper", "accepted", "measured", "result"}};
  for (const auto& o : out) {
    const auto& r = o.row;
    std::string paper_v = r.metric == "removed_layers" ? r.text_value : r.value ? fmt(*r.value) : "";
    std::string accepted = r.metric == "removed_layers" ? "same set"
                           : (r.lower ? fmt(*r.lower) : "-inf") + " .. " + (r.upper ? fmt(*r.upper) : "inf");
    std::string result = o.verdict == "pass" ? "pass" : o.verdict == "fail" ? "FAIL" : "not run";
    if (o.different_model && o.verdict != "not run") result += " (different model)";
    if (!o.why.empty()) result += ": " + o.why;
    cells.push_back({r.row_key, r.model, r.task, r.metric, paper_v, accepted,
                     o.measured_text.empty() ? "-" : o.measured_text, result});
  }
  std::vector<size_t> w(cells[0].size(), 0);
  for (const auto& row : cells)
    for (size_t i = 0; i < row.size(); ++i) w[i] = std::max(w[i], row[i].size());
  for (size_t r = 0; r < cells.size(); ++r) {
    os << "|";
    for (size_t i = 0; i < cells[r].size(); ++i) os << " " << cells[r][i] << std::string(w[i] - cells[r][i].size(), ' ') << " |";
    os << "\n";
    if (r == 0) {
      os << "|";
      for (size_t i = 0; i < w.size(); ++i) os << std::string(w[i] + 2, '-') << "|";
      os << "\n";
    }
  }
  size_t pass = 0, fail = 0, not_run = 0, other = 0;
  for (const auto& o : out) {
    if (o.verdict == "not run") ++not_run;
    else if (o.different_model) ++other;
    else if (o.verdict == "pass") ++pass;
    else ++fail;
  }
  os << "\n" << pass << " reproduced, " << fail << " not reproduced, " << other << " compared on a different model, "
     << not_run << " not run.\n";
  for (const auto& o : out)
    if (!o.row.note.empty()) os << "- " << o.row.row_key << ": " << o.row.note << "\n";
  return os.str();
}

}  // namespace eeb
