// SVG building blocks for the report charts, on a pugixml DOM (so every attribute and text is
// escaped): scales, "nice" ticks, axes with labels, legends, markers, colours. The charts
// themselves are in svg_charts.cpp. Internal to reports/.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <pugixml.hpp>

namespace eeb::svg {

// Linear map of the data interval [d0, d1] onto the pixel interval [r0, r1].
struct Scale {
  double d0 = 0, d1 = 1, r0 = 0, r1 = 1;
  double operator()(double v) const { return d1 == d0 ? (r0 + r1) / 2 : r0 + (v - d0) / (d1 - d0) * (r1 - r0); }
};

// Tick values at a 1-2-5 × 10^k step covering [lo, hi]; lo / hi are widened to whole steps.
// integer: steps of at least 1 (layer counts).
struct Ticks {
  double lo = 0, hi = 1, step = 1;
  std::vector<double> values;
  int decimals = 0;  // digits after the point that the labels need
};
Ticks nice_ticks(double lo, double hi, int target = 6, bool integer = false);
std::string tick_label(double v, int decimals);

// A tick drawn at pixel position `pos` with its label.
struct Tick {
  double pos;
  std::string label;
};
std::vector<Tick> place(const Ticks& t, const Scale& s);

// Categorical palette (Tableau 10), and a sequential colour for t in [0, 1] (viridis stops).
std::string palette(size_t i);
std::string sequential(double t);

// <name attr=value ...> appended to parent.
pugi::xml_node add(pugi::xml_node parent, const char* name,
                   std::initializer_list<std::pair<const char*, std::string>> attrs = {});
pugi::xml_node add_text(pugi::xml_node parent, double x, double y, const std::string& text,
                        const char* anchor = "start", const char* css_class = "");
std::string px(double v);  // "12.5"

// The plotting rectangle inside a chart.
struct Frame {
  double left, top, width, height;
  double right() const { return left + width; }
  double bottom() const { return top + height; }
};

// Root <svg> (width × height, viewBox, role=img) with <title>, a visible title and, at the bottom
// left, "runs 1, 2" (where the data came from).
pugi::xml_node begin_chart(pugi::xml_node parent, const std::string& id, const std::string& title,
                           const std::vector<int64_t>& runs, double width, double height);

// Bottom and left axes of the frame: axis lines, ticks, tick labels, axis titles (label with unit),
// and light grid lines when grid is set.
void x_axis(pugi::xml_node svg, const Frame& f, const std::vector<Tick>& ticks, const std::string& title,
            bool grid);
void y_axis(pugi::xml_node svg, const Frame& f, const std::vector<Tick>& ticks, const std::string& title,
            bool grid);

// A point marker: circle, square, diamond, triangle or star, centred at (x, y).
pugi::xml_node marker(pugi::xml_node parent, const std::string& shape, double x, double y,
                      const std::string& colour, double size = 4.5);

struct LegendItem {
  std::string label, colour;
  bool line = false, dashed = false;
  std::string marker;  // "" = none
};
// A boxed legend with its top-left corner at (x, y), one row per item.
void legend(pugi::xml_node svg, double x, double y, const std::vector<LegendItem>& items);

}  // namespace eeb::svg
