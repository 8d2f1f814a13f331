// Draws the chart data of charts.h as SVG (helpers in svg.h): XY charts (markers, lines, error bars,
// reference lines, legend) and heatmaps (cells with values, colour bar).
#include <algorithm>
#include <cmath>
#include <limits>

#include "reports/charts.h"
#include "reports/report_data.h"
#include "reports/svg.h"

namespace eeb {
namespace {

using svg::add;
using svg::px;

void widen(double v, double& lo, double& hi) {
  if (!std::isfinite(v)) return;
  lo = std::min(lo, v), hi = std::max(hi, v);
}

svg::Ticks ticks_for(const Axis& a, double lo, double hi) {
  if (a.lo) lo = std::min(lo, *a.lo);
  if (a.hi) hi = std::max(hi, *a.hi);
  if (lo > hi) lo = a.lo.value_or(0), hi = a.hi.value_or(1);
  return svg::nice_ticks(lo, hi, 6, a.integer);
}

void render_xy(pugi::xml_node parent, const XYChart& c) {
  const double W = 780, H = 420;
  const svg::Frame f{78, 40, W - 78 - 214, H - 40 - 68};
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  for (const auto& s : c.series)
    for (const auto& p : s.points) widen(p.x, xlo, xhi), widen(p.y - p.err, ylo, yhi), widen(p.y + p.err, ylo, yhi);
  for (const auto& r : c.refs) r.vertical ? widen(r.at, xlo, xhi) : widen(r.at, ylo, yhi);
  const svg::Ticks xt = ticks_for(c.x, xlo, xhi), yt = ticks_for(c.y, ylo, yhi);
  const svg::Scale xs{xt.lo, xt.hi, f.left, f.right()}, ys{yt.lo, yt.hi, f.bottom(), f.top};

  pugi::xml_node s = svg::begin_chart(parent, c.id, c.title, c.runs, W, H);
  svg::x_axis(s, f, svg::place(xt, xs), c.x.title(), true);
  svg::y_axis(s, f, svg::place(yt, ys), c.y.title(), true);

  pugi::xml_node refs = add(s, "g", {{"class", "reference-lines"}});
  for (const auto& r : c.refs) {
    const double x1 = r.vertical ? xs(r.at) : f.left, x2 = r.vertical ? xs(r.at) : f.right();
    const double y1 = r.vertical ? f.top : ys(r.at), y2 = r.vertical ? f.bottom() : ys(r.at);
    add(refs, "line", {{"x1", px(x1)}, {"x2", px(x2)}, {"y1", px(y1)}, {"y2", px(y2)}, {"stroke", "#555555"},
                       {"stroke-dasharray", "2,3"}});
    if (r.vertical)
      svg::add_text(refs, x1 - 4, f.top + 12, r.label, "end", "ref-label");
    else
      svg::add_text(refs, f.right() - 4, y1 - 5, r.label, "end", "ref-label");
  }

  std::vector<svg::LegendItem> items;
  size_t next_colour = 0;
  for (const auto& se : c.series) {
    const std::string colour = se.colour.empty() ? svg::palette(next_colour++) : se.colour;
    pugi::xml_node g = add(s, "g", {{"class", "series"}});
    add(g, "title").text().set(se.name.c_str());
    if (se.line && se.points.size() > 1) {
      std::string pts;
      for (const auto& p : se.points) pts += cat(pts.empty() ? "" : " ", px(xs(p.x)), ",", px(ys(p.y)));
      pugi::xml_node l = add(g, "polyline", {{"points", pts}, {"fill", "none"}, {"stroke", colour},
                                             {"stroke-width", "2"}});
      if (se.dashed) l.append_attribute("stroke-dasharray").set_value("5,3");
    }
    for (const auto& p : se.points) {
      if (p.err > 0)
        add(g, "line", {{"x1", px(xs(p.x))}, {"x2", px(xs(p.x))}, {"y1", px(ys(p.y - p.err))},
                        {"y2", px(ys(p.y + p.err))}, {"stroke", colour}, {"stroke-width", "1"}, {"class", "error-bar"}});
      if (se.markers) {
        pugi::xml_node m = svg::marker(g, se.marker, xs(p.x), ys(p.y), colour, se.marker == "star" ? 4 : 4.5);
        if (!p.label.empty()) add(m, "title").text().set(p.label.c_str());
      }
    }
    items.push_back({se.name, colour, se.line && se.points.size() > 1, se.dashed, se.markers ? se.marker : ""});
  }
  svg::legend(s, f.right() + 14, f.top, items);
}

void render_heat(pugi::xml_node parent, const HeatChart& h) {
  const size_t nx = std::max<size_t>(1, h.xs.size()), ny = std::max<size_t>(1, h.ys.size());
  const double cw = std::min(80.0, 480.0 / nx), ch = std::min(44.0, 360.0 / ny);
  const svg::Frame f{90, 44, cw * nx, ch * ny};
  // Colour bar height: the plot's, and at least the length of its rotated label (about 6.5 px per
  // character at 12 px), so the label stays beside the bar, below the chart title.
  const double bh = std::max({120.0, f.height, 6.5 * static_cast<double>(h.value.title().size()) + 8});
  const double W = std::max(520.0, f.right() + 150), H = std::max(f.bottom(), f.top + bh) + 68;
  double vlo = std::numeric_limits<double>::infinity(), vhi = -vlo;
  for (const auto& row : h.cells)
    for (const auto& v : row)
      if (v) widen(*v, vlo, vhi);
  if (!(vlo <= vhi)) vlo = 0, vhi = 1;
  auto t_of = [&](double v) { return vhi > vlo ? (v - vlo) / (vhi - vlo) : 0.5; };

  pugi::xml_node s = svg::begin_chart(parent, h.id, h.title, h.runs, W, H);
  pugi::xml_node cells = add(s, "g", {{"class", "cells"}});
  for (size_t yi = 0; yi < h.cells.size(); ++yi)
    for (size_t xi = 0; xi < h.cells[yi].size(); ++xi) {
      const double x = f.left + xi * cw, y = f.bottom() - (yi + 1) * ch;  // smallest y at the bottom
      const auto& v = h.cells[yi][xi];
      pugi::xml_node r = add(cells, "rect", {{"x", px(x)}, {"y", px(y)}, {"width", px(cw)}, {"height", px(ch)},
                                             {"fill", v ? svg::sequential(t_of(*v)) : "#eeeeee"},
                                             {"stroke", "#ffffff"}});
      const std::string what = h.y.label + " " + fmt(h.ys[yi]) + ", " + h.x.label + " " + fmt(h.xs[xi]) + ": " +
                               (v ? fmt(*v) : "not measured");
      add(r, "title").text().set(what.c_str());
      svg::add_text(cells, x + cw / 2, y + ch / 2 + 4, v ? fmt(*v, 3) : "–", "middle", "cell-value")
          .append_attribute("fill")
          .set_value(v && t_of(*v) > 0.6 ? "#000000" : v ? "#ffffff" : "#666666");
    }
  std::vector<svg::Tick> xt, yt;
  for (size_t i = 0; i < h.xs.size(); ++i) xt.push_back({f.left + (i + 0.5) * cw, fmt(h.xs[i])});
  for (size_t i = 0; i < h.ys.size(); ++i) yt.push_back({f.bottom() - (i + 0.5) * ch, fmt(h.ys[i])});
  svg::x_axis(s, f, xt, h.x.title(), false);
  svg::y_axis(s, f, yt, h.y.title(), false);

  // Colour bar (the legend): 24 bands from the lowest to the highest value, with ticks.
  pugi::xml_node bar = add(s, "g", {{"class", "legend colour-bar"}});
  const double bx = f.right() + 24, bw = 14;
  const int bands = 24;
  for (int i = 0; i < bands; ++i)
    add(bar, "rect", {{"x", px(bx)}, {"y", px(f.top + bh - (i + 1) * bh / bands)}, {"width", px(bw)},
                      {"height", px(bh / bands + 0.5)}, {"fill", svg::sequential((i + 0.5) / bands)}});
  add(bar, "rect", {{"x", px(bx)}, {"y", px(f.top)}, {"width", px(bw)}, {"height", px(bh)}, {"fill", "none"},
                    {"stroke", "#333333"}});
  const svg::Scale vs{vlo, vhi, f.top + bh, f.top};
  svg::Ticks vt = svg::nice_ticks(vlo, vhi, 4);
  for (double v : vt.values) {
    if (v < vlo - 1e-12 || v > vhi + 1e-12) continue;
    add(bar, "line", {{"x1", px(bx + bw)}, {"x2", px(bx + bw + 4)}, {"y1", px(vs(v))}, {"y2", px(vs(v))},
                      {"stroke", "#333333"}});
    svg::add_text(bar, bx + bw + 7, vs(v) + 4, svg::tick_label(v, vt.decimals), "start", "tick");
  }
  const double lx = bx + bw + 56, ly = f.top + bh / 2;
  svg::add_text(bar, lx, ly, h.value.title(), "middle", "legend-label")
      .append_attribute("transform")
      .set_value(("rotate(90 " + px(lx) + " " + px(ly) + ")").c_str());
}

}  // namespace

void render_chart(pugi::xml_node parent, const Chart& c) {
  if (const auto* xy = std::get_if<XYChart>(&c)) render_xy(parent, *xy);
  else render_heat(parent, std::get<HeatChart>(c));
}

}  // namespace eeb
