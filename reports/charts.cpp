// The five chart kinds of a report, as data. One chart per model × task (accuracies of different
// tasks or models are not comparable); every chart lists the runs its points came from.
#include "reports/charts.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "reports/svg.h"

namespace eeb {
namespace {

using Trials = std::vector<const TrialData*>;

struct Group {
  std::string label;
  Trials trials;
};

// Trials that pass `keep`, grouped by model (checksum and name) × task (name, version, split, shots).
template <class Keep>
std::vector<Group> groups(const ReportData& d, Keep keep) {
  std::map<std::string, Group> by_key;
  std::vector<std::string> order;
  for (const auto& t : d.trials) {
    if (!keep(t)) continue;
    const auto& m = t.row.model;
    const auto& k = t.row.task;
    const std::string key = m.weights_checksum + "\n" + model_label(m) + "\n" + k.name + "\n" + k.version + "\n" +
                            k.split + "\n" + std::to_string(k.shots);
    auto [it, fresh] = by_key.try_emplace(key, Group{model_label(m) + " · " + task_label(k), {}});
    if (fresh) order.push_back(key);
    it->second.trials.push_back(&t);
  }
  std::vector<Group> out;
  for (const auto& k : order) out.push_back(by_key[k]);
  return out;
}

std::vector<int64_t> run_ids(const Trials& ts) {
  std::set<int64_t> s;
  for (const auto* t : ts) s.insert(t->row.run_id);
  return {s.begin(), s.end()};
}

std::string slug(const std::string& kind, size_t i) { return kind + "-" + std::to_string(i + 1); }

std::optional<double> param(const TrialData& t, const char* key) {
  const auto& p = t.row.strategy.params;
  if (p.is_object() && p.contains(key) && p[key].is_number()) return p[key].get<double>();
  return std::nullopt;
}

std::string param_text(const TrialData& t, const char* key) {
  const auto& p = t.row.strategy.params;
  if (p.is_object() && p.contains(key)) return p[key].is_string() ? p[key].get<std::string>() : p[key].dump();
  return "";
}

double pct(double v) { return 100 * v; }

// Measured depth, or the oracle's hypothetical one (stored under its own name: nothing ran that shallow).
static std::optional<double> depth_of(const TrialData& t) {
  if (auto v = t.value("avg_layers")) return v;
  return t.value("oracle_avg_layers");
}

ChartSection accuracy_vs_layers(const ReportData& d) {
  ChartSection sec{"Accuracy vs average activated layers", "", {}};
  auto gs = groups(d, [](const TrialData& t) { return t.value("acc") && depth_of(t); });
  for (size_t gi = 0; gi < gs.size(); ++gi) {
    const auto& g = gs[gi];
    XYChart c;
    c.id = slug("accuracy-layers", gi);
    c.title = "Accuracy vs average layers — " + g.label;
    c.x = {"average activated layers", "layers", false, 0.0, std::nullopt};
    c.y = {"accuracy", "%", false, std::nullopt, std::nullopt};
    c.runs = run_ids(g.trials);
    std::map<std::string, XYSeries> by_name;
    std::vector<std::string> names;
    std::vector<XYPoint> all;
    XYSeries full{"full depth", {}, false, true, false, "star", "#222222"};
    int L = 0;
    for (const auto* t : g.trials) {
      L = std::max(L, t->n_layers());
      const MetricRow* acc = t->metric("acc");
      XYPoint p{*depth_of(*t), pct(acc->value), acc->std_err ? pct(*acc->std_err) : 0.0,
                strategy_label(t->row.strategy) + " (run " + std::to_string(t->row.run_id) + ", trial " +
                    std::to_string(t->row.id) + "): " + fmt(*depth_of(*t)) + " layers, " +
                    fmt(pct(acc->value)) + "%"};
      all.push_back(p);
      if (t->row.strategy.name == "full") {
        full.points.push_back(p);
        continue;
      }
      const std::string& n = t->row.strategy.name;
      if (!by_name.count(n)) {
        names.push_back(n);
        by_name[n] = XYSeries{n == "oracle" ? "oracle (hypothetical)" : n, {}, n != "lesion", true, false,
                              n == "oracle" ? "diamond" : "circle", ""};
      }
      by_name[n].points.push_back(p);
    }
    for (const auto& n : names) {
      auto s = by_name[n];
      std::sort(s.points.begin(), s.points.end(), [](auto& a, auto& b) { return a.x < b.x; });
      s.line = s.line && s.points.size() > 1;
      c.series.push_back(s);
    }
    auto front = pareto_front(all);
    if (front.size() > 1) c.series.push_back({"Pareto front", front, true, false, true, "", "#777777"});
    if (!full.points.empty()) c.series.push_back(full);
    if (L > 0) {
      c.x.hi = L;
      if (full.points.empty()) c.refs.push_back({true, double(L), "full depth (" + std::to_string(L) + ")"});
    }
    sec.charts.push_back(c);
  }
  if (sec.charts.empty()) sec.note = "no trials with acc and avg_layers metrics: chart omitted.";
  return sec;
}

ChartSection logit_lens(const ReportData& d) {
  ChartSection sec{"Logit lens: accuracy and agreement with the final layer, per layer", "", {}};
  auto has_preds = [](const TrialData& t) {
    return std::any_of(t.samples.begin(), t.samples.end(), [](const SampleRow& s) {
      return s.extra.is_object() && s.extra.contains("layer_preds") && s.extra["layer_preds"].is_array();
    });
  };
  auto gs = groups(d, [&](const TrialData& t) { return t.row.strategy.name == "oracle" && has_preds(t); });
  for (size_t gi = 0; gi < gs.size(); ++gi) {
    const auto& g = gs[gi];
    XYChart c;
    c.id = slug("logit-lens", gi);
    c.title = "Logit lens per layer — " + g.label;
    c.x = {"exit after layer", "layers", true, 1.0, std::nullopt};
    c.y = {"share of documents", "%", false, 0.0, 100.0};
    c.runs = run_ids(g.trials);
    for (size_t ti = 0; ti < g.trials.size(); ++ti) {
      const auto& t = *g.trials[ti];
      std::vector<double> correct, agree, n_gold, n_all;
      for (const auto& s : t.samples) {
        if (!s.extra.is_object() || !s.extra.contains("layer_preds") || !s.extra["layer_preds"].is_array()) continue;
        const auto& lp = s.extra["layer_preds"];
        const size_t L = lp.size();
        if (L == 0 || !lp[L - 1].is_number_integer()) continue;
        if (correct.size() < L) correct.resize(L), agree.resize(L), n_gold.resize(L), n_all.resize(L);
        const int final_pred = lp[L - 1].get<int>();
        for (size_t k = 0; k < L; ++k) {
          if (!lp[k].is_number_integer()) continue;
          const int p = lp[k].get<int>();
          n_all[k] += 1, agree[k] += p == final_pred;
          if (s.gold >= 0) n_gold[k] += 1, correct[k] += p == s.gold;
        }
      }
      const std::string suffix = g.trials.size() > 1 ? " (trial " + std::to_string(t.row.id) + ")" : "";
      const std::string colour = svg::palette(ti);
      XYSeries acc{"accuracy" + suffix, {}, true, true, false, "circle", colour};
      XYSeries agr{"agreement with final" + suffix, {}, true, true, true, "square", colour};
      for (size_t k = 0; k < correct.size(); ++k) {
        const std::string layer = "layer " + std::to_string(k + 1) + ": ";
        if (n_gold[k] > 0)
          acc.points.push_back({double(k + 1), pct(correct[k] / n_gold[k]), 0, layer + fmt(pct(correct[k] / n_gold[k])) + "% correct"});
        if (n_all[k] > 0)
          agr.points.push_back({double(k + 1), pct(agree[k] / n_all[k]), 0, layer + fmt(pct(agree[k] / n_all[k])) + "% agree"});
      }
      if (!acc.points.empty()) c.series.push_back(acc);
      if (!agr.points.empty()) c.series.push_back(agr);
      c.x.hi = std::max(c.x.hi.value_or(1), double(correct.size()));
    }
    if (!c.series.empty()) sec.charts.push_back(c);
  }
  if (sec.charts.empty()) sec.note = "no oracle trials with per-layer predictions (extra.layer_preds): chart omitted.";
  return sec;
}

double removed_count(const TrialData& t) {
  const auto& r = t.row.decision;
  if (r.is_object() && r.contains("removed") && r["removed"].is_array()) return double(r["removed"].size());
  return param(t, "n").value_or(-1);
}

ChartSection layers_removed(const ReportData& d) {
  ChartSection sec{"Accuracy vs layers removed (ShortGPT, angular distance)", "", {}};
  auto keep = [](const TrialData& t) {
    const auto& n = t.row.strategy.name;
    return ((n == "shortgpt" || n == "angular") && t.value("acc") && removed_count(t) >= 0) ||
           (n == "full" && t.value("acc"));
  };
  auto gs = groups(d, keep);
  for (size_t gi = 0; gi < gs.size(); ++gi) {
    const auto& g = gs[gi];
    XYChart c;
    c.id = slug("layers-removed", gi);
    c.title = "Accuracy vs layers removed — " + g.label;
    c.x = {"layers removed", "layers", true, 0.0, std::nullopt};
    c.y = {"accuracy", "%", false, std::nullopt, std::nullopt};
    std::map<std::string, XYSeries> by_name;
    Trials used;
    for (const auto* t : g.trials) {
      const auto& n = t->row.strategy.name;
      if (n == "full") continue;
      const MetricRow* acc = t->metric("acc");
      auto& s = by_name[n];
      s.name = n;
      s.points.push_back({removed_count(*t), pct(acc->value), acc->std_err ? pct(*acc->std_err) : 0.0,
                          strategy_label(t->row.strategy) + " (trial " + std::to_string(t->row.id) + "): " +
                              fmt(pct(acc->value)) + "%"});
      used.push_back(t);
    }
    if (used.empty()) continue;
    for (auto& [n, s] : by_name) {
      std::sort(s.points.begin(), s.points.end(), [](auto& a, auto& b) { return a.x < b.x; });
      s.line = s.points.size() > 1;
      c.series.push_back(s);
    }
    for (const auto* t : g.trials)
      if (t->row.strategy.name == "full") {
        c.refs.push_back({false, pct(*t->value("acc")), "full depth " + fmt(pct(*t->value("acc"))) + "%"});
        used.push_back(t);
        break;
      }
    c.runs = run_ids(used);
    sec.charts.push_back(c);
  }
  if (sec.charts.empty()) sec.note = "no shortgpt or angular trials with acc: chart omitted.";
  return sec;
}

ChartSection layerskip(const ReportData& d) {
  ChartSection sec{"Self-speculative decoding (LayerSkip): exit layer E × draft length d", "", {}};
  auto gs = groups(d, [](const TrialData& t) {
    return t.row.strategy.name == "layerskip" && param(t, "exit_layer") && param(t, "draft");
  });
  size_t idx = 0;
  for (const auto& g : gs) {
    for (const auto& [metric, label, unit] : {std::tuple{"speedup", "measured speedup", "×"},
                                              std::tuple{"acceptance_rate", "draft acceptance rate", "fraction"}}) {
      HeatChart h;
      h.id = slug(std::string("layerskip-") + metric, idx);
      h.title = "LayerSkip " + std::string(label) + " — " + g.label;
      h.x = {"draft length d", "tokens", true, std::nullopt, std::nullopt};
      h.y = {"exit layer E", "layers", true, std::nullopt, std::nullopt};
      h.value = {label, unit, false, std::nullopt, std::nullopt};
      std::set<double> xs, ys;
      Trials used;
      for (const auto* t : g.trials)
        if (t->value(metric)) xs.insert(*param(*t, "draft")), ys.insert(*param(*t, "exit_layer")), used.push_back(t);
      if (used.empty()) continue;
      h.xs.assign(xs.begin(), xs.end());
      h.ys.assign(ys.begin(), ys.end());
      h.cells.assign(h.ys.size(), std::vector<std::optional<double>>(h.xs.size()));
      for (const auto* t : used) {
        const size_t xi = std::lower_bound(h.xs.begin(), h.xs.end(), *param(*t, "draft")) - h.xs.begin();
        const size_t yi = std::lower_bound(h.ys.begin(), h.ys.end(), *param(*t, "exit_layer")) - h.ys.begin();
        h.cells[yi][xi] = *t->value(metric);
      }
      h.runs = run_ids(used);
      sec.charts.push_back(h);
    }
    ++idx;
  }
  if (sec.charts.empty()) sec.note = "no layerskip trials with exit_layer, draft and speedup / acceptance_rate: heatmaps omitted.";
  return sec;
}

ChartSection lesions(const ReportData& d) {
  ChartSection sec{"Layer lesions: KL divergence and top-1 agreement per layer", "", {}};
  auto gs = groups(d, [](const TrialData& t) { return t.row.strategy.name == "lesion" && param(t, "layer"); });
  size_t idx = 0;
  for (const auto& g : gs) {
    for (const auto& [metric, label, unit, scale] :
         {std::tuple{"kl", "KL(full ‖ lesion)", "nats", 1.0}, std::tuple{"top1_agree", "top-1 agreement with full", "%", 100.0}}) {
      XYChart c;
      c.id = slug(std::string("lesion-") + metric, idx);
      c.title = "Lesion " + std::string(metric == std::string("kl") ? "KL divergence" : "top-1 agreement") + " — " + g.label;
      c.x = {"lesioned layer", "0-based index", true, std::nullopt, std::nullopt};
      c.y = {label, unit, false, 0.0, metric == std::string("kl") ? std::nullopt : std::optional<double>(100.0)};
      std::map<std::string, XYSeries> by_op;
      Trials used;
      for (const auto* t : g.trials) {
        if (!t->value(metric)) continue;
        const std::string op = param_text(*t, "op").empty() ? "delete" : param_text(*t, "op");
        auto& s = by_op[op];
        s.name = "op " + op;
        const double v = *t->value(metric) * scale;
        s.points.push_back({*param(*t, "layer"), v, 0, "layer " + fmt(*param(*t, "layer")) + " " + op + ": " + fmt(v)});
        used.push_back(t);
      }
      if (used.empty()) continue;
      for (auto& [op, s] : by_op) {
        std::sort(s.points.begin(), s.points.end(), [](auto& a, auto& b) { return a.x < b.x; });
        c.series.push_back(s);
      }
      c.runs = run_ids(used);
      sec.charts.push_back(c);
    }
    ++idx;
  }
  if (sec.charts.empty()) sec.note = "no lesion trials with a layer parameter and kl / top1_agree metrics: charts omitted.";
  return sec;
}

}  // namespace

std::vector<XYPoint> pareto_front(std::vector<XYPoint> pts) {
  std::sort(pts.begin(), pts.end(), [](auto& a, auto& b) { return a.x < b.x || (a.x == b.x && a.y > b.y); });
  std::vector<XYPoint> out;
  for (const auto& p : pts)
    if (out.empty() || p.y > out.back().y) out.push_back(p);  // same x: the first has the highest y
  return out;
}

std::vector<ChartSection> build_charts(const ReportData& d) {
  return {accuracy_vs_layers(d), logit_lens(d), layers_removed(d), layerskip(d), lesions(d)};
}

}  // namespace eeb
