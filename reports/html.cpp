// The HTML report: one self-contained page (inline CSS and SVG; no scripts, no external resources),
// built as a pugixml DOM, so it is also well-formed XML and every text is escaped.
#include <cstdlib>
#include <set>
#include <sstream>
#include <variant>

#include "reports/charts.h"
#include "reports/report.h"
#include "reports/svg.h"
#include "reports/tables.h"

namespace eeb {
namespace {

// No '<', '>' or '&': the text is serialised escaped, and <style> is raw text in HTML.
const char* kStyle = R"(
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1400px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; } h3 { font-size: 15px; }
table { border-collapse: collapse; font-size: 12px; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 12px 0 24px 0; }
figcaption { font-size: 12px; color: #555; }
p.note { color: #666; font-style: italic; }
svg.chart { border: 1px solid #ddd; }
)";

// "12", "0.8 ± 0.05", "1.2 [1.1, 1.3]": right-aligned. Dates, versions, hashes are not numbers.
bool numeric(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  if (end == s.c_str()) return false;
  const std::string rest(end);
  return rest.empty() || rest.rfind(" ±", 0) == 0 || rest.rfind(" [", 0) == 0;
}

void html_table(pugi::xml_node parent, const Table& t) {
  pugi::xml_node table = parent.append_child("table");
  pugi::xml_node tr = table.append_child("thead").append_child("tr");
  for (const auto& h : t.header) tr.append_child("th").text().set(h.c_str());
  pugi::xml_node body = table.append_child("tbody");
  for (const auto& row : t.rows) {
    pugi::xml_node r = body.append_child("tr");
    for (const auto& c : row) {
      pugi::xml_node td = r.append_child("td");
      if (numeric(c)) td.append_attribute("class").set_value("num");
      td.text().set(c.c_str());
    }
  }
}

void add_p(pugi::xml_node parent, const std::string& text, const char* css_class = "") {
  pugi::xml_node p = parent.append_child("p");
  if (*css_class) p.append_attribute("class").set_value(css_class);
  p.text().set(text.c_str());
}

// HTML elements outside <svg> must not be written as <x/> (only void elements may); give every
// empty one an empty text child so it is written <x></x>.
void open_empty_elements(pugi::xml_node n) {
  static const std::set<std::string> void_elements = {"meta", "br", "hr", "img", "link", "col"};
  for (pugi::xml_node c = n.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element || std::string(c.name()) == "svg") continue;
    if (!c.first_child() && !void_elements.count(c.name())) c.append_child(pugi::node_pcdata);
    open_empty_elements(c);
  }
}

}  // namespace

std::string report_html(ResultStore& store, const std::vector<int64_t>& runs) {
  ReportData d = load_report_data(store, runs, LoadSamples::oracle);
  std::vector<int64_t> ids;
  for (const auto& r : d.runs) ids.push_back(r.id);
  const std::string title = "eebench report: run" + std::string(ids.size() == 1 ? " " : "s ") + join_ids(ids);

  pugi::xml_document doc;
  pugi::xml_node html = doc.append_child("html");
  html.append_attribute("lang").set_value("en");
  pugi::xml_node head = html.append_child("head");
  head.append_child("meta").append_attribute("charset").set_value("utf-8");
  head.append_child("title").text().set(title.c_str());
  head.append_child("style").text().set(kStyle);
  pugi::xml_node body = html.append_child("body");
  body.append_child("h1").text().set(title.c_str());
  add_p(body, "Database: " + d.db);

  body.append_child("h2").text().set("Runs");
  html_table(body, runs_table(d));
  body.append_child("h2").text().set("Metrics");
  if (d.trials.empty()) {
    add_p(body, "No trials in these runs.", "note");
  } else {
    add_p(body, "Accuracies in percent ± standard error; speedup = summed per-sample median full-depth time / "
                "strategy time on the same samples, with its bootstrap 95% CI.");
    html_table(body, metrics_table(d));
    Table other = other_metrics_table(d);
    if (!other.rows.empty()) {
      body.append_child("h3").text().set("Other metrics");
      html_table(body, other);
    }
    Table front = pareto_table(d);
    if (!front.rows.empty()) {
      body.append_child("h3").text().set("Pareto front (accuracy vs average layers)");
      html_table(body, front);
    }
    Table decisions = decisions_table(d);
    if (!decisions.rows.empty()) {
      body.append_child("h3").text().set("Strategy decisions (per trial)");
      html_table(body, decisions);
    }
  }

  Table papers = paper_table(store, d);
  if (!papers.rows.empty()) {
    body.append_child("h2").text().set("Paper targets (eebench reproduce)");
    html_table(body, papers);
  }
  Table failed = failed_trials_table(store, d);
  if (!failed.rows.empty()) {
    body.append_child("h2").text().set("Trials that did not finish");
    html_table(body, failed);
  }

  body.append_child("h2").text().set("Charts");
  for (const auto& sec : build_charts(d)) {
    pugi::xml_node s = body.append_child("section");
    s.append_child("h3").text().set(sec.title.c_str());
    if (sec.charts.empty()) add_p(s, sec.note, "note");
    for (const auto& c : sec.charts) {
      pugi::xml_node fig = s.append_child("figure");
      render_chart(fig, c);
      const auto& chart_runs = std::visit([](const auto& x) -> const std::vector<int64_t>& { return x.runs; }, c);
      fig.append_child("figcaption").text().set(
          ((chart_runs.size() == 1 ? "Data: run " : "Data: runs ") + join_ids(chart_runs) + " of " + d.db).c_str());
    }
  }
  open_empty_elements(html);

  std::ostringstream out;
  out << "<!DOCTYPE html>\n";
  doc.save(out, " ", pugi::format_indent | pugi::format_no_declaration, pugi::encoding_utf8);
  return out.str();
}

}  // namespace eeb
