// eebench compare: the command, its table and its JUnit XML. The checks: compare_checks.cpp.
#include "reports/compare.h"

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <pugixml.hpp>

#include "reports/report.h"
#include "reports/report_data.h"

namespace eeb {
namespace {

const char* verdict_text(Verdict v) { return v == Verdict::fail ? "FAIL" : v == Verdict::skipped ? "skipped" : "ok"; }

std::string pad(const std::string& s, size_t w) {
  size_t chars = 0;  // UTF-8 characters, for "→" and "±"
  for (unsigned char ch : s) chars += (ch & 0xC0) != 0x80;
  return chars >= w ? s + " " : s + std::string(w - chars, ' ');
}

std::string p_text(double p) {
  if (p < 0) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, p < 1e-4 ? "%.2g" : "%.4f", p);
  return buf;
}

bool parse_id(std::string_view s, int64_t& v) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && v > 0;
}

}  // namespace

std::vector<int64_t> parse_run_list(const std::string& s) {
  std::vector<int64_t> out;
  const std::string bad = cat("compare: bad run list '", s, "' (expected run ids like 7, 7,8,9 or 7-9)");
  std::string_view rest = s;
  while (true) {
    const size_t comma = rest.find(',');
    std::string_view tok = rest.substr(0, comma);
    const size_t dash = tok.find('-');
    int64_t a = 0, b = 0;
    if (dash == std::string_view::npos) {
      if (!parse_id(tok, a)) throw Error(bad);
      out.push_back(a);
    } else {
      if (!parse_id(tok.substr(0, dash), a) || !parse_id(tok.substr(dash + 1), b) || b < a || b - a > 100000)
        throw Error(bad);
      for (int64_t i = a; i <= b; ++i) out.push_back(i);
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return out;
}

std::string comparison_table(const Comparison& c) {
  std::string out;
  std::string last;
  for (const auto& k : c.checks) {
    if (k.trial + k.ids != last) {
      out += cat("\n", k.trial, "  (", k.ids, ")\n  ", pad("metric", 15), pad("base", 14), pad("candidate", 14),
                 pad("change", 11), pad("p-value", 10), "result\n");
      last = k.trial + k.ids;
    }
    out += cat("  ", pad(k.metric, 15), pad(k.base, 14), pad(k.candidate, 14), pad(k.change, 11), pad(p_text(k.p), 10),
               verdict_text(k.verdict), "\n");
    if (k.verdict != Verdict::pass) out += cat("    ", k.reason, "\n");
  }
  if (!c.notes.empty()) out += "\n";
  for (const auto& n : c.notes) out += cat("note: ", n, "\n");
  out += cat("\n", std::to_string(c.checks.size()), " checks, ", std::to_string(c.failures()), " failed, ",
             std::to_string(c.skipped()), " skipped: ", c.failures() ? "REGRESSION" : "no regression", "\n");
  return out;
}

std::string junit_xml(const Comparison& c, const std::string& suite_name) {
  pugi::xml_document doc;
  auto decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version").set_value("1.0");
  decl.append_attribute("encoding").set_value("UTF-8");
  pugi::xml_node suites = doc.append_child("testsuites");
  suites.append_attribute("name").set_value("eebench compare");
  pugi::xml_node suite = suites.append_child("testsuite");
  for (pugi::xml_node n : {suites, suite}) {
    n.append_attribute("tests").set_value(static_cast<long long>(c.checks.size()));
    n.append_attribute("failures").set_value(c.failures());
    n.append_attribute("errors").set_value(0);
    n.append_attribute("skipped").set_value(c.skipped());
  }
  suite.prepend_attribute("name").set_value(suite_name.c_str());
  for (const auto& k : c.checks) {
    pugi::xml_node tc = suite.append_child("testcase");
    tc.append_attribute("classname").set_value(cat(k.trial, " (", k.ids, ")").c_str());
    tc.append_attribute("name").set_value(k.metric.c_str());
    tc.append_attribute("time").set_value("0");
    if (k.verdict == Verdict::fail) {
      pugi::xml_node f = tc.append_child("failure");
      f.append_attribute("message").set_value(k.reason.c_str());
      f.append_attribute("type").set_value("regression");
      f.text().set(cat(k.metric, ": base ", k.base, ", candidate ", k.candidate, ", change ", k.change,
                       k.p >= 0 ? cat(", p=", p_text(k.p), " (", k.method, ")") : "", "\n", k.reason)
                       .c_str());
    } else if (k.verdict == Verdict::skipped) {
      tc.append_child("skipped").append_attribute("message").set_value(k.reason.c_str());
    } else if (!k.reason.empty()) {
      tc.append_child("system-out").text().set(k.reason.c_str());
    }
  }
  if (!c.notes.empty()) {
    std::string notes;
    for (const auto& n : c.notes) notes += n + "\n";
    suite.append_child("system-out").text().set(notes.c_str());
  }
  std::ostringstream out;
  doc.save(out, "  ", pugi::format_indent, pugi::encoding_utf8);
  return out.str();
}

int cmd_compare(const CompareArgs& a) {
  const std::string base_db = a.base_db.empty() ? a.db : a.base_db;
  const std::string cand_db = a.candidate_db.empty() ? a.db : a.candidate_db;
  for (const auto& db : {base_db, cand_db})
    if (!std::filesystem::exists(db)) throw Error(db, "no results database");
  const auto base_runs = parse_run_list(a.base), cand_runs = parse_run_list(a.candidate);
  const auto& o = a.options;
  if (!(o.alpha > 0 && o.alpha < 1)) throw Error("compare: --alpha must be in (0, 1)");
  if (!(o.max_acc_drop >= 0) || !(o.max_slowdown >= 0))
    throw Error("compare: --max-acc-drop and --max-slowdown must be >= 0");
  ResultStore base = ResultStore::open(base_db);
  ResultStore cand = ResultStore::open(cand_db);
  const Comparison c = compare_runs(base, base_runs, cand, cand_runs, o);
  const std::string title = cat("base run", base_runs.size() == 1 ? " " : "s ", join_ids(base_runs), " (", base_db,
                                ") vs candidate run", cand_runs.size() == 1 ? " " : "s ", join_ids(cand_runs), " (",
                                cand_db, ")");
  std::printf("eebench compare: %s\nthresholds: max accuracy drop %s pt, alpha %s, max slowdown %s%%%s\n",
              title.c_str(), fmt(100 * o.max_acc_drop).c_str(), fmt(o.alpha).c_str(),
              fmt(100 * o.max_slowdown).c_str(), o.force ? ", --force" : "");
  std::fputs(comparison_table(c).c_str(), stdout);
  std::fflush(stdout);
  if (!a.junit.empty()) {
    write_file_atomic(a.junit, junit_xml(c, title));
    std::fprintf(stderr, "eebench: wrote %s\n", a.junit.c_str());
  }
  return c.failures() ? 1 : 0;
}

}  // namespace eeb
