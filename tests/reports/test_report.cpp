// Reports: HTML is well-formed (pugixml parses it), one <svg> per chart with axes and run ids, no
// scripts or external resources; Markdown has the metrics table; CSV / JSON exports round-trip.
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <pugixml.hpp>

#include "reports/charts.h"
#include "reports/paper_targets.h"
#include "reports/report.h"
#include "reports/svg.h"
#include "report_fixtures.h"
#include "tests/skip.h"

using namespace eeb;
using namespace eeb::testing;
using nlohmann::json;

namespace {

// Every kind of chart: full + oracle (run 1), shortgpt sweep (run 2), layerskip E × d (run 3,
// generation), lesions (run 4).
struct FullDb {
  TempDir tmp;
  std::string db = tmp.file("all.db");
  int64_t r1, r2, r3, r4;
  FullDb() {
    ResultStore s = ResultStore::open(db);
    r1 = add_run(s);
    add_trial(s, r1, {}, make_samples(20));
    TrialSpec oracle;
    oracle.strategy = "oracle";
    auto os = make_samples(20, 3);
    // Layer k (0-based) predicts the gold label from layer 2 on for even documents; layer 0 and 1
    // always predict 0. Final layer = pred.
    for (auto& x : os) {
      std::vector<int> lp(12, x.pred);
      lp[0] = lp[1] = 0;
      x.extra["layer_preds"] = lp;
    }
    add_trial(s, r1, oracle, os);
    r2 = add_run(s);
    for (int n = 0; n <= 2; ++n) {
      TrialSpec sg;
      sg.strategy = "shortgpt", sg.params = {{"n", n}};
      sg.decision = {{"n", n}, {"removed", n == 0 ? json::array() : n == 1 ? json{10} : json{9, 10}}};
      auto xs = make_samples(20, 12 - n);
      flip_to_wrong(xs, n);
      add_trial(s, r2, sg, xs);
    }
    r3 = add_run(s);
    for (int e : {4, 6})
      for (int d : {2, 4}) {
        TrialSpec ls;
        ls.strategy = "layerskip", ls.task = "prompts", ls.params = {{"exit_layer", e}, {"draft", d}};
        auto xs = make_samples(5);
        for (auto& x : xs) x.gold = x.pred = x.pred_norm = -1;
        const int64_t t = add_trial(s, r3, ls, xs);
        put(s, t, "speedup", 1.0 + 0.1 * e - 0.05 * d, 5, std::nullopt, {{"ci95", {1.0, 2.0}}});
        put(s, t, "acceptance_rate", 0.9 - 0.05 * d + 0.01 * e, 5);
      }
    r4 = add_run(s);
    for (int layer = 0; layer < 4; ++layer)
      for (const char* op : {"delete", "swap"}) {
        TrialSpec le;
        le.strategy = "lesion", le.params = {{"layer", layer}, {"op", op}};
        const int64_t t = add_trial(s, r4, le, make_samples(10, 11));
        put(s, t, "kl", 0.5 / (layer + 1), 10, 0.01);
        put(s, t, "top1_agree", 1 - 0.1 / (layer + 1), 10, 0.02);
      }
  }
};

std::vector<pugi::xml_node> all(pugi::xml_node root, const char* name) {
  std::vector<pugi::xml_node> out;
  for (pugi::xpath_node n : root.select_nodes((std::string("//") + name).c_str())) out.push_back(n.node());
  return out;
}

std::string text_of(pugi::xml_node svg) {
  std::string s;
  for (auto t : all(svg, "text")) s += std::string(t.text().get()) + "\n";
  return s;
}

}  // namespace

TEST_CASE("report: HTML is well-formed, self-contained, one <svg> per chart with axes and run ids") {
  FullDb f;
  ResultStore s = ResultStore::open(f.db);
  const std::string html = report_html(s, {});
  REQUIRE(html.rfind("<!DOCTYPE html>", 0) == 0);
  pugi::xml_document doc;
  auto ok = doc.load_string(html.c_str());
  INFO(ok.description());
  REQUIRE(ok);
  // No scripts, no external resources.
  CHECK(all(doc, "script").empty());
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("href=") == std::string::npos);
  CHECK(html.find("@import") == std::string::npos);
  // Accuracy/layers, logit lens, layers removed, 2 layerskip heatmaps, 2 lesion charts.
  auto svgs = all(doc, "svg");
  REQUIRE(svgs.size() == 7);
  std::vector<std::string> ids;
  for (auto svg : svgs) {
    ids.push_back(svg.attribute("id").value());
    const std::string text = text_of(svg);
    INFO(ids.back() << ":\n" << text);
    CHECK(svg.attribute("viewBox"));
    CHECK(svg.select_nodes(".//*[@class='axis-label']").size() == 2);
    CHECK(svg.select_nodes(".//*[@class='tick']").size() >= 2);
    CHECK(svg.select_nodes(".//*[contains(@class,'legend')]").size() >= 1);
    CHECK(svg.select_node(".//*[@class='chart-runs']"));
  }
  CHECK(ids == std::vector<std::string>{"accuracy-layers-1", "logit-lens-1", "layers-removed-1",
                                        "layerskip-speedup-1", "layerskip-acceptance_rate-1", "lesion-kl-1",
                                        "lesion-top1_agree-1"});
  // Axis labels with units, and the runs each chart came from.
  CHECK(text_of(svgs[0]).find("average activated layers (layers)") != std::string::npos);
  CHECK(text_of(svgs[0]).find("accuracy (%)") != std::string::npos);
  CHECK(text_of(svgs[0]).find("runs 1, 2, 4") != std::string::npos);  // acc + avg_layers: full, oracle, shortgpt, lesion
  CHECK(text_of(svgs[1]).find("run 1") != std::string::npos);
  CHECK(text_of(svgs[2]).find("runs 1, 2") != std::string::npos);     // shortgpt + the full-depth reference
  CHECK(text_of(svgs[3]).find("run 3") != std::string::npos);
  CHECK(text_of(svgs[3]).find("draft length d (tokens)") != std::string::npos);
  CHECK(text_of(svgs[5]).find("KL(full ‖ lesion) (nats)") != std::string::npos);
  CHECK(text_of(svgs[5]).find("run 4") != std::string::npos);
  // Legends name the series.
  CHECK(text_of(svgs[0]).find("Pareto front") != std::string::npos);
  CHECK(text_of(svgs[0]).find("full depth") != std::string::npos);
  CHECK(text_of(svgs[5]).find("op swap") != std::string::npos);
  // Metrics table.
  CHECK(html.find("<th>acc (%)</th>") != std::string::npos);
}

TEST_CASE("report: chart data equals hand-computed values") {
  FullDb f;
  ResultStore s = ResultStore::open(f.db);
  ReportData d = load_report_data(s, {}, LoadSamples::oracle);
  auto sections = build_charts(d);
  REQUIRE(sections.size() == 5);
  // Logit lens: layers 1-2 predict 0: correct on the even documents (gold 0) = 10 of 20 = 50 %;
  // agreement with the final layer = documents whose final prediction is 0.
  const auto& lens = std::get<XYChart>(sections[1].charts.at(0));
  REQUIRE(lens.series.size() == 2);
  double final_zero = 0;
  for (const auto& x : make_samples(20, 3)) final_zero += x.pred == 0;
  CHECK(lens.series[0].points.at(0).y == Approx(50));
  CHECK(lens.series[1].points.at(0).y == Approx(100 * final_zero / 20));
  CHECK(lens.series[0].points.at(11).y == Approx(100 * (20 - 3) / 20.0));  // i % 7 == 3: 3, 10, 17 wrong
  CHECK(lens.series[1].points.at(11).y == Approx(100));
  // Layers removed: x from decision.removed, y = accuracy, full-depth reference line.
  const auto& removed = std::get<XYChart>(sections[2].charts.at(0));
  REQUIRE(removed.series.size() == 1);
  CHECK(removed.series[0].points.size() == 3);
  CHECK(removed.series[0].points[2].x == 2);
  CHECK(removed.series[0].points[2].y == Approx(100 * (17 - 2) / 20.0));
  REQUIRE(removed.refs.size() == 1);
  // Heatmap cells: rows E = 4, 6; columns d = 2, 4.
  const auto& heat = std::get<HeatChart>(sections[3].charts.at(0));
  CHECK(heat.ys == std::vector<double>{4, 6});
  CHECK(heat.xs == std::vector<double>{2, 4});
  CHECK(*heat.cells[1][0] == Approx(1.0 + 0.6 - 0.1));
}

TEST_CASE("report: missing chart data gives one-line notes, not empty charts") {
  TempDir tmp;
  const std::string db = tmp.file("one.db");
  ResultStore s = ResultStore::open(db);
  add_trial(s, add_run(s), {}, make_samples(10));
  const std::string html = report_html(s, {1});
  pugi::xml_document doc;
  REQUIRE(doc.load_string(html.c_str()));
  CHECK(all(doc, "svg").size() == 1);  // accuracy vs layers with the full-depth point
  CHECK(all(doc, "p").size() >= 5);
  CHECK(html.find("heatmaps omitted") != std::string::npos);
  CHECK(html.find("no oracle trials") != std::string::npos);
  const std::string md = report_markdown(s, {1});
  CHECK(md.find("heatmaps omitted") != std::string::npos);
  // A run with no trials at all.
  add_run(s);
  CHECK(report_markdown(s, {2}).find("No trials") != std::string::npos);
  REQUIRE(doc.load_string(report_html(s, {2}).c_str()));
}

TEST_CASE("report: Markdown has the runs and the metrics table") {
  FullDb f;
  ResultStore s = ResultStore::open(f.db);
  const std::string md = report_markdown(s, {f.r1, f.r2});
  CHECK(md.find("# eebench report: runs 1, 2") != std::string::npos);
  CHECK(md.find("## Metrics") != std::string::npos);
  CHECK(md.find("| run | trial | model | task | strategy | status | n | acc (%) |") != std::string::npos);
  // Full depth: 17 of 20 correct = 85 %, 12 layers.
  CHECK(md.find("| 1 | 1 | tiny-12L | sst2 v1.0 dev 0-shot | full | finished | 20 | 85 ± 8.2 |") != std::string::npos);
  CHECK(md.find("shortgpt n=2") != std::string::npos);
  CHECK(md.find("Pareto front") != std::string::npos);
  CHECK(md.find("| layerskip") == std::string::npos);  // run 3 not asked for
}

TEST_CASE("report: CSV and JSON exports") {
  FullDb f;
  ResultStore s = ResultStore::open(f.db);
  const std::string m = export_metrics_csv(s, {f.r1});
  CHECK(m.rfind("run_id,trial_id,model,weights_checksum,task,", 0) == 0);
  CHECK(m.find("\r\n1,1,/models/tiny-12L,xxh3:00aa,sst2,1.0,dev,0,full,{},acc,,0.85,") != std::string::npos);
  const std::string samples = export_samples_csv(s, {f.r1});
  size_t lines = 0;
  for (size_t i = 0; (i = samples.find("\r\n", i)) != std::string::npos; i += 2) ++lines;
  CHECK(lines == 1 + 40);  // header + 2 trials × 20 samples
  // The extra JSON holds quotes and commas: quoted, quotes doubled.
  CHECK(samples.find(R"("{""note"":""a \""quoted\"", comma'd text"",""t_strategy"":[)") != std::string::npos);
  const json j = json::parse(export_json(s, {}));
  CHECK(j["runs"].size() == 4);
  CHECK(j["trials"].size() == 1 + 1 + 3 + 4 + 8);
  CHECK(j["trials"][0]["samples"].size() == 20);
  CHECK(j["trials"][0]["metrics"].size() == 4);
  CHECK(j["trials"][1]["samples"][0]["extra"]["layer_preds"].size() == 12);
}

TEST_CASE("report: cmd_report writes files atomically and rejects bad input") {
  FullDb f;
  const std::string out = f.tmp.file("r.html");
  CHECK(cmd_report({}, f.db, "html", out) == 0);
  pugi::xml_document doc;
  CHECK(doc.load_string(read_text(out).c_str()));
  CHECK(cmd_report({1}, f.db, "csv", f.tmp.file("r.csv")) == 0);
  CHECK(std::filesystem::exists(f.tmp.file("r.samples.csv")));
  CHECK(cmd_report({1}, f.db, "json", f.tmp.file("r.json")) == 0);
  CHECK(cmd_report({1}, f.db, "md", f.tmp.file("r.md")) == 0);
  for (const auto& e : std::filesystem::directory_iterator(f.tmp.path()))
    CHECK(e.path().string().find(".tmp.") == std::string::npos);
  CHECK_THROWS_WITH(cmd_report({}, f.db, "pdf", out), Catch::Contains("unknown format"));
  CHECK_THROWS_WITH(cmd_report({99}, f.db, "md", ""), Catch::Contains("no run 99"));
  CHECK_THROWS_WITH(cmd_report({}, f.tmp.file("none.db"), "md", ""), Catch::Contains("no results database"));
  CHECK_THROWS_WITH(cmd_report({}, f.db, "csv", ""), Catch::Contains("--out"));
  CHECK_THROWS_WITH(cmd_report({}, f.db, "html", f.tmp.file("no/such/dir/r.html")), Catch::Contains("does not exist"));
  // Empty and foreign databases.
  const std::string empty = f.tmp.file("empty.db");
  { ResultStore::open(empty); }
  CHECK_THROWS_WITH(cmd_report({}, empty, "md", ""), Catch::Contains("no runs"));
  const std::string junk = f.tmp.file("junk.db");
  std::ofstream(junk) << "definitely not SQLite";
  CHECK_THROWS_WITH(cmd_report({}, junk, "html", out), Catch::Contains("not an eebench results database"));
}

TEST_CASE("charts: Pareto front and nice ticks") {
  std::vector<XYPoint> pts;
  for (auto [x, y] : std::vector<std::pair<double, double>>{{12, 80}, {2.2, 80}, {2.5, 86}, {11, 88}, {11, 50}, {8, 84}, {2.2, 70}}) {
    XYPoint p;
    p.x = x, p.y = y;
    pts.push_back(p);
  }
  auto front = pareto_front(pts);
  REQUIRE(front.size() == 3);
  CHECK(front[0].x == 2.2);
  CHECK(front[0].y == 80);
  CHECK(front[1].x == 2.5);
  CHECK(front[2].x == 11);
  CHECK(front[2].y == 88);
  auto t = svg::nice_ticks(0.3, 11.7, 6);
  CHECK(t.lo == 0);
  CHECK(t.hi == 12);
  CHECK(t.step == 2);
  CHECK(t.values.size() == 7);
  auto p = svg::nice_ticks(74.3, 89.3, 6);  // raw step 2.5
  CHECK(p.step == 2.5);
  CHECK(p.decimals == 1);
  CHECK(p.lo == 72.5);
  CHECK(svg::tick_label(p.values[1], p.decimals) == "75.0");
  auto i = svg::nice_ticks(0, 3, 6, true);
  CHECK(i.step == 1);
  auto one = svg::nice_ticks(5, 5, 6);  // a single value gets an interval around it
  CHECK(one.lo < 5);
  CHECK(one.hi > 5);
}

namespace {

std::string shell_output(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

}  // namespace

// The report as a browser lays it out: headless Chromium (Debian's chromium) loads it, a probe page
// measures every SVG, and a screenshot is kept in <build>/artifacts/report.png.
TEST_CASE("report: headless Chromium lays out every chart inside its SVG, labels not overlapping") {
  const std::string browser = shell_output("command -v chromium || command -v chromium-browser");
  if (browser.empty())
    EEB_SKIP("chromium not installed (apt-get install chromium; scripts/install-deps.sh does)");
  const std::string exe = browser.substr(0, browser.find('\n'));
  FullDb f;
  ResultStore s = ResultStore::open(f.db);
  write_file_atomic(f.tmp.file("report.html"), report_html(s, {}));
  std::filesystem::copy_file(std::string(EEB_SOURCE_DIR) + "/tests/reports/layout_probe.html", f.tmp.file("probe.html"));
  const std::string flags = " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --disable-background-networking --no-first-run"
                            " --disable-component-update --disable-sync --hide-scrollbars --user-data-dir=" +
                            f.tmp.file("profile");
  const std::string dom = shell_output("timeout 120 " + exe + flags + " --allow-file-access-from-files"
                                       " --virtual-time-budget=10000 --dump-dom file://" + f.tmp.file("probe.html") +
                                       " 2>/dev/null");
  const auto a = dom.find("RESULT ["), b = dom.find("] END", a == std::string::npos ? 0 : a);
  INFO(dom.substr(0, 2000));
  REQUIRE(a != std::string::npos);
  REQUIRE(b != std::string::npos);
  const json svgs = json::parse(dom.substr(a + 7, b + 1 - (a + 7)));
  REQUIRE(svgs.size() == 7);  // the same seven charts the DOM test counts
  for (const auto& g : svgs) {
    INFO(g.dump());
    CHECK(g["w"].get<int>() >= 300);
    CHECK(g["h"].get<int>() >= 150);
    CHECK(g["texts"].get<int>() >= 4);  // title, axis labels, ticks, legend
    CHECK(g["marks"].get<int>() >= 4);
    CHECK(g["outside"] == 0);
    CHECK(g["overlaps"] == 0);
  }
  // A screenshot to look at (kept as the test's artifact).
  const std::string png = std::string(EEB_BINARY_DIR) + "/artifacts/report.png";
  std::filesystem::create_directories(std::string(EEB_BINARY_DIR) + "/artifacts");
  std::filesystem::remove(png);
  shell_output("timeout 120 " + exe + flags + " --window-size=1200,5200 --screenshot=" + png + " file://" +
               f.tmp.file("report.html") + " 2>/dev/null");
  REQUIRE(std::filesystem::exists(png));
  std::filesystem::copy_file(f.tmp.file("report.html"), std::string(EEB_BINARY_DIR) + "/artifacts/report.html",
                             std::filesystem::copy_options::overwrite_existing);
  CHECK(std::filesystem::file_size(png) > 20000);
}

TEST_CASE("report: paper targets of reproduce runs and trials that did not finish get their tables") {
  TempDir tmp;
  ResultStore s = ResultStore::open(tmp.file("p.db"));
  const int64_t run = add_run(s);
  add_trial(s, run, {}, make_samples(10));
  TargetRow g;
  g.paper = "adainfer", g.version = "v9", g.row_key = "sst2-acc-drop", g.source = "arXiv", g.model = "org/m";
  g.task = "sst2", g.metric = "acc_drop", g.value = 0.01, g.upper = 0.01;
  s.put_targets("adainfer", "v9", {g});
  s.set_run_spec(run, {{"reproduce", {{"paper", "adainfer"}, {"targets_version", "v9"}, {"model_id", "org/x"},
                                      {"rows", {{{"key", "sst2-acc-drop"}, {"verdict", "fail"},
                                                 {"different_model", true}, {"measured", 0.25}, {"why", ""}}}}}}});
  s.plan_trials(run, {{{"strategy", "static"}, {"params", {{"layer", 2}}}, {"task", "sst2"}, {"model", "m"}}});
  PlannedTrial p = s.planned_trials(run).at(0);
  p.status = "failed", p.exit_status = "signal 11 (Segmentation fault)", p.error = "crashed: signal 11";
  s.update_planned(p);
  const std::string md = report_markdown(s, {run});
  CHECK_THAT(md, Catch::Contains("## Paper targets (eebench reproduce)"));
  CHECK_THAT(md, Catch::Contains("| " + std::to_string(run) +
                                 " | adainfer (v9) | sst2-acc-drop | org/m | sst2 | acc_drop | 0.01 | -inf .. 0.01 | 0.25 |"
                                 " FAIL (different model) |"));
  CHECK_THAT(md, Catch::Contains("| " + std::to_string(run) + " | 0 | static {\"layer\":2} | sst2 | m |"
                                 " signal 11 (Segmentation fault) | crashed: signal 11 |"));
  const std::string html = report_html(s, {run});
  pugi::xml_document doc;
  REQUIRE(doc.load_string(html.c_str()));
  CHECK(html.find("Trials that did not finish") != std::string::npos);
  // A report of runs without either has neither section.
  const std::string plain = report_markdown(s, {add_run(s)});
  CHECK(plain.find("Paper targets") == std::string::npos);
}

TEST_CASE("report: each trial's own decision, for one strategy setting on two models") {
  TempDir tmp;
  const std::string db = tmp.file("d.db");
  ResultStore s = ResultStore::open(db);
  const int64_t run = add_run(s);
  TrialSpec a, b;
  a.strategy = b.strategy = "shortgpt";
  a.params = b.params = {{"n", 2}};  // one strategies row serves both trials
  b.model = "/models/other-12L", b.checksum = "xxh3:11bb";
  a.decision = {{"removed", {3, 5}}, {"scores", std::vector<double>(12, 0.25)}};
  b.decision = {{"removed", {7, 9}}, {"scores", std::vector<double>(12, 0.5)}};
  add_trial(s, run, a, make_samples(10));
  add_trial(s, run, b, make_samples(10));
  const auto trials = s.trials(run);
  REQUIRE(trials.size() == 2);
  CHECK(trials[0].strategy.id == trials[1].strategy.id);
  CHECK(trials[0].decision == a.decision);
  CHECK(trials[1].decision == b.decision);

  const std::string md = report_markdown(s, {run});
  CHECK(md.find("Strategy decisions (per trial)") != std::string::npos);
  CHECK(md.find("| tiny-12L | sst2 v1.0 dev 0-shot | shortgpt n=2 | removed=[3,5] scores=(12 values) |") !=
        std::string::npos);
  CHECK(md.find("| other-12L | sst2 v1.0 dev 0-shot | shortgpt n=2 | removed=[7,9] scores=(12 values) |") !=
        std::string::npos);
  const json j = json::parse(export_json(s, {run}));
  CHECK(j["trials"][0]["decision"] == a.decision);
  CHECK(j["trials"][1]["decision"] == b.decision);

  // reproduce's removed_layers rows read the trial's decision.
  TargetRow row;
  row.model = "/models/other-12L", row.task = "sst2", row.metric = "removed_layers", row.text_value = "7,9";
  row.setting = {{"strategy", "shortgpt"}, {"params", {{"n", 2}}}};
  auto out = evaluate_targets({row}, {{trials[1], {}}}, "/models/other-12L");
  REQUIRE(out.size() == 1);
  CHECK(out[0].measured_text == "7,9");
  CHECK(out[0].verdict == "pass");
}
