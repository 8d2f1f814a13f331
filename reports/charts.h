// The report's charts as plain data (charts.cpp builds them from the database rows) and their SVG
// rendering (svg_charts.cpp). Internal to reports/.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <pugixml.hpp>

#include "reports/report_data.h"

namespace eeb {

struct Axis {
  std::string label, unit;  // "average activated layers", "layers"
  bool integer = false;     // ticks at whole numbers
  std::optional<double> lo, hi;  // forced ends of the domain
  std::string title() const { return unit.empty() ? label : label + " (" + unit + ")"; }
};

struct XYPoint {
  double x = 0, y = 0;
  double err = 0;     // ± on y (error bar), 0 = none
  std::string label;  // tooltip
};

struct XYSeries {
  std::string name;
  std::vector<XYPoint> points;  // drawn in this order
  bool line = true, markers = true, dashed = false;
  std::string marker = "circle";
  std::string colour;  // "" = next palette colour
};

struct RefLine {
  bool vertical = true;
  double at = 0;
  std::string label;
};

struct XYChart {
  std::string id, title;
  Axis x, y;
  std::vector<XYSeries> series;
  std::vector<RefLine> refs;
  std::vector<int64_t> runs;  // where the data came from
};

// Rows ys × columns xs; cells[row][col], none = not measured.
struct HeatChart {
  std::string id, title;
  Axis x, y, value;
  std::vector<double> xs, ys;
  std::vector<std::vector<std::optional<double>>> cells;
  std::vector<int64_t> runs;
};

using Chart = std::variant<XYChart, HeatChart>;

// One kind of chart (one per model × task group); note says why there are none.
struct ChartSection {
  std::string title, note;
  std::vector<Chart> charts;
};

// Accuracy vs layers, logit lens, layers removed, layerskip heatmaps, lesions: always five
// sections, each with charts or a one-line note.
std::vector<ChartSection> build_charts(const ReportData& d);

// Points not dominated by another (fewer or equal x and higher or equal y, one strictly), by x.
std::vector<XYPoint> pareto_front(std::vector<XYPoint> pts);

// Appends the chart's <svg> to parent.
void render_chart(pugi::xml_node parent, const Chart& c);

}  // namespace eeb
