#include "reports/tables.h"

#include <map>
#include <set>

#include "reports/charts.h"

namespace eeb {
namespace {

struct Column {
  std::string metric, header;
  bool percent;  // shown × 100
};

// The main metrics, in this order.
const std::vector<Column>& main_columns() {
  static const std::vector<Column> c = {
      {"acc", "acc (%)", true},
      {"acc_norm", "acc_norm (%)", true},
      {"acc_macro", "acc_macro (%)", true},
      {"avg_layers", "avg layers", false},
      {"pruning_ratio", "pruning ratio", false},
      {"speedup", "speedup (95% CI)", false},
      {"flops_speedup", "FLOPs speedup", false},
      {"agreement_with_full", "agreement with full (%)", true},
      {"kl", "KL (nats)", false},
      {"top1_agree", "top-1 agree (%)", true},
      {"acceptance_rate", "acceptance (%)", true},
      {"mean_accepted_tokens", "accepted tokens/step", false},
      {"rouge2", "ROUGE-2", false},
  };
  return c;
}

std::string cell(const MetricRow& m, bool percent) {
  const double k = percent ? 100 : 1;
  std::string s = fmt(m.value * k);
  if (m.std_err) s += " ± " + fmt(*m.std_err * k, 2);
  if (m.detail.is_object() && m.detail.contains("ci95") && m.detail["ci95"].is_array() &&
      m.detail["ci95"].size() == 2 && m.detail["ci95"][0].is_number() && m.detail["ci95"][1].is_number())
    s += " [" + fmt(m.detail["ci95"][0].get<double>()) + ", " + fmt(m.detail["ci95"][1].get<double>()) + "]";
  return s;
}

}  // namespace

Table runs_table(const ReportData& d) {
  Table t{{"run", "started", "status", "eebench", "git", "backend", "dtype", "threads", "CPU", "GPU", "command"}, {}};
  for (const auto& r : d.runs)
    t.rows.push_back({std::to_string(r.id), r.started_at, r.status + (r.error.empty() ? "" : ": " + r.error),
                      r.eebench_version, r.git_sha.substr(0, 12) + (r.git_dirty ? " (dirty)" : ""), r.backend, r.dtype,
                      std::to_string(r.threads), r.cpu_model, r.gpu_name, r.command_line});
  return t;
}

Table metrics_table(const ReportData& d) {
  std::vector<const Column*> cols;
  for (const auto& c : main_columns())
    for (const auto& t : d.trials)
      if (t.metric(c.metric)) {
        cols.push_back(&c);
        break;
      }
  Table t{{"run", "trial", "model", "task", "strategy", "status", "n"}, {}};
  for (const auto* c : cols) t.header.push_back(c->header);
  for (const auto& tr : d.trials) {
    std::vector<std::string> row = {std::to_string(tr.row.run_id), std::to_string(tr.row.id),
                                    model_label(tr.row.model), task_label(tr.row.task),
                                    strategy_label(tr.row.strategy), tr.row.status, std::to_string(tr.row.n_samples)};
    for (const auto* c : cols) {
      const MetricRow* m = tr.metric(c->metric);
      row.push_back(m ? cell(*m, c->percent) : "");
    }
    t.rows.push_back(row);
  }
  return t;
}

Table other_metrics_table(const ReportData& d) {
  std::set<std::string> main, names;
  for (const auto& c : main_columns()) main.insert(c.metric);
  for (const auto& tr : d.trials)
    for (const auto& m : tr.metrics)
      if (m.group.empty() && !main.count(m.name)) names.insert(m.name);
  Table t{{"run", "trial", "strategy"}, {}};
  if (names.empty()) return t;
  t.header.insert(t.header.end(), names.begin(), names.end());
  for (const auto& tr : d.trials) {
    std::vector<std::string> row = {std::to_string(tr.row.run_id), std::to_string(tr.row.id),
                                    strategy_label(tr.row.strategy)};
    for (const auto& n : names) {
      const MetricRow* m = tr.metric(n);
      row.push_back(m ? fmt(m->value, 5) : "");
    }
    t.rows.push_back(row);
  }
  return t;
}

Table pareto_table(const ReportData& d) {
  Table t{{"model · task", "strategy", "run", "trial", "avg layers", "acc (%)"}, {}};
  std::map<std::string, std::vector<XYPoint>> groups;
  std::vector<std::string> order;
  for (size_t i = 0; i < d.trials.size(); ++i) {
    const auto& tr = d.trials[i];
    if (!tr.value("acc") || !tr.value("avg_layers")) continue;
    const std::string key = model_label(tr.row.model) + " · " + task_label(tr.row.task);
    if (!groups.count(key)) order.push_back(key);
    groups[key].push_back({*tr.value("avg_layers"), *tr.value("acc"), 0, std::to_string(i)});
  }
  for (const auto& key : order)
    for (const auto& p : pareto_front(groups[key])) {
      const auto& tr = d.trials[std::stoul(p.label)];
      t.rows.push_back({key, strategy_label(tr.row.strategy), std::to_string(tr.row.run_id), std::to_string(tr.row.id),
                        fmt(p.x), fmt(100 * p.y)});
    }
  return t;
}

Table paper_table(ResultStore& store, const ReportData& d) {
  Table t{{"run", "paper", "target", "paper model", "task", "metric", "paper", "accepted", "measured", "result"}, {}};
  for (const auto& r : d.runs) {
    if (!r.spec.is_object() || !r.spec.contains("reproduce") || !r.spec["reproduce"].is_object()) continue;
    const auto& rep = r.spec["reproduce"];
    const std::string paper = rep.value("paper", ""), version = rep.value("targets_version", "");
    std::map<std::string, TargetRow> targets;
    for (auto& row : store.targets(paper))
      if (row.version == version) targets[row.row_key] = row;
    if (!rep.contains("rows") || !rep["rows"].is_array()) continue;
    for (const auto& o : rep["rows"]) {
      if (!o.is_object()) continue;
      const std::string key = o.value("key", "");
      const auto it = targets.find(key);
      std::string paper_v, accepted, model, task, metric;
      if (it != targets.end()) {
        const TargetRow& g = it->second;
        model = g.model, task = g.task, metric = g.metric;
        paper_v = g.metric == "removed_layers" ? g.text_value : g.value ? fmt(*g.value) : "";
        accepted = g.metric == "removed_layers" ? "same set"
                                                : (g.lower ? fmt(*g.lower) : "-inf") + " .. " +
                                                      (g.upper ? fmt(*g.upper) : "inf");
      }
      const auto& m = o.contains("measured") ? o["measured"] : nlohmann::json();
      const std::string measured = m.is_number() ? fmt(m.get<double>()) : m.is_string() ? m.get<std::string>() : "";
      const std::string verdict = o.value("verdict", "");
      std::string result = verdict == "fail" ? "FAIL" : verdict;
      if (o.value("different_model", false) && verdict != "not run") result += " (different model)";
      if (!o.value("why", std::string()).empty()) result += ": " + o.value("why", std::string());
      t.rows.push_back({std::to_string(r.id), paper + " (" + version + ")", key, model, task, metric, paper_v, accepted,
                        measured.empty() ? "-" : measured, result});
    }
  }
  return t;
}

std::string decision_summary(const nlohmann::json& decision) {
  if (!decision.is_object()) return decision.dump();
  std::string s;
  for (const auto& [k, v] : decision.items()) {
    std::string text;
    if (v.is_object()) text = "{...}";  // e.g. classifier_model: weights and training record
    else if (v.is_array() && v.size() > 8) text = "(" + std::to_string(v.size()) + " values)";
    else text = v.dump();
    s += (s.empty() ? "" : " ") + k + "=" + text;
  }
  return s;
}

Table decisions_table(const ReportData& d) {
  Table t{{"run", "trial", "model", "task", "strategy", "decision"}, {}};
  for (const auto& tr : d.trials) {
    if (tr.row.decision.empty()) continue;
    t.rows.push_back({std::to_string(tr.row.run_id), std::to_string(tr.row.id), model_label(tr.row.model),
                      task_label(tr.row.task), strategy_label(tr.row.strategy), decision_summary(tr.row.decision)});
  }
  return t;
}

Table failed_trials_table(ResultStore& store, const ReportData& d) {
  Table t{{"run", "trial", "strategy", "task", "model", "exit", "error"}, {}};
  for (const auto& r : d.runs)
    for (const auto& p : store.planned_trials(r.id)) {
      if (p.status == "finished" || p.status == "pending") continue;
      const auto params = p.spec.value("params", nlohmann::json::object());
      t.rows.push_back({std::to_string(r.id), std::to_string(p.idx),
                        p.spec.value("strategy", "") + (params.empty() ? "" : " " + params.dump()),
                        p.spec.value("task", ""), p.spec.value("model", ""), p.exit_status,
                        p.error.empty() ? p.status : p.error});
    }
  return t;
}

}  // namespace eeb
