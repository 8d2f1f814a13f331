#include "reports/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "reports/report_data.h"

namespace eeb::svg {

Ticks nice_ticks(double lo, double hi, int target, bool integer) {
  Ticks t;
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo < 1e-12) {  // one value: a small interval around it
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad, hi += pad;
  }
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (raw <= m * mag * (1 + 1e-9)) {
      step = m * mag;
      break;
    }
  if (integer) step = std::max(1.0, std::round(step));
  t.step = step;
  t.lo = std::floor(lo / step + 1e-9) * step;
  t.hi = std::ceil(hi / step - 1e-9) * step;
  const int n = static_cast<int>(std::llround((t.hi - t.lo) / step));
  for (int i = 0; i <= n; ++i) {
    double v = t.lo + i * step;
    if (std::fabs(v) < step * 1e-9) v = 0;
    t.values.push_back(v);
  }
  t.decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  if (std::fabs(step * std::pow(10.0, t.decimals) - std::round(step * std::pow(10.0, t.decimals))) > 1e-6)
    ++t.decimals;  // 2.5 × 10^k
  return t;
}

std::string tick_label(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", std::clamp(decimals, 0, 12), v);
  return buf;
}

std::vector<Tick> place(const Ticks& t, const Scale& s) {
  std::vector<Tick> out;
  for (double v : t.values) out.push_back({s(v), tick_label(v, t.decimals)});
  return out;
}

std::string palette(size_t i) {
  static const char* c[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                            "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
  return c[i % 10];
}

std::string sequential(double t) {
  static const double stops[][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * 4;
  const int i = std::min(3, static_cast<int>(t));
  const double f = t - i;
  char buf[16];
  int rgb[3];
  for (int k = 0; k < 3; ++k) rgb[k] = static_cast<int>(std::lround(stops[i][k] + f * (stops[i + 1][k] - stops[i][k])));
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
  return buf;
}

std::string px(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", std::isfinite(v) ? v : 0.0);
  std::string s = buf;
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  return s;
}

pugi::xml_node add(pugi::xml_node parent, const char* name,
                   std::initializer_list<std::pair<const char*, std::string>> attrs) {
  pugi::xml_node n = parent.append_child(name);
  for (const auto& [k, v] : attrs) n.append_attribute(k).set_value(v.c_str());
  return n;
}

pugi::xml_node add_text(pugi::xml_node parent, double x, double y, const std::string& text, const char* anchor,
                        const char* css_class) {
  pugi::xml_node t = add(parent, "text", {{"x", px(x)}, {"y", px(y)}});
  if (std::string(anchor) != "start") t.append_attribute("text-anchor").set_value(anchor);
  if (*css_class) t.append_attribute("class").set_value(css_class);
  t.text().set(text.c_str());
  return t;
}

pugi::xml_node begin_chart(pugi::xml_node parent, const std::string& id, const std::string& title,
                           const std::vector<int64_t>& runs, double width, double height) {
  pugi::xml_node s = add(parent, "svg",
                         {{"xmlns", "http://www.w3.org/2000/svg"}, {"id", id}, {"class", "chart"},
                          {"width", px(width)}, {"height", px(height)},
                          {"viewBox", "0 0 " + px(width) + " " + px(height)}, {"role", "img"},
                          {"font-family", "sans-serif"}, {"font-size", "12"}});
  add(s, "title").text().set(title.c_str());
  add(s, "rect", {{"width", px(width)}, {"height", px(height)}, {"fill", "#ffffff"}});
  add_text(s, 12, 22, title, "start", "chart-title").append_attribute("font-size").set_value("14");
  std::string src = (runs.size() == 1 ? "run " : "runs ") + join_ids(runs);
  add_text(s, 12, height - 10, src, "start", "chart-runs").append_attribute("fill").set_value("#555555");
  return s;
}

void x_axis(pugi::xml_node svg, const Frame& f, const std::vector<Tick>& ticks, const std::string& title, bool grid) {
  pugi::xml_node g = add(svg, "g", {{"class", "x-axis"}});
  for (const auto& t : ticks) {
    if (grid)
      add(g, "line", {{"x1", px(t.pos)}, {"x2", px(t.pos)}, {"y1", px(f.top)}, {"y2", px(f.bottom())},
                      {"stroke", "#e5e5e5"}});
    add(g, "line", {{"x1", px(t.pos)}, {"x2", px(t.pos)}, {"y1", px(f.bottom())}, {"y2", px(f.bottom() + 5)},
                    {"stroke", "#333333"}});
    add_text(g, t.pos, f.bottom() + 18, t.label, "middle", "tick");
  }
  add(g, "line", {{"x1", px(f.left)}, {"x2", px(f.right())}, {"y1", px(f.bottom())}, {"y2", px(f.bottom())},
                  {"stroke", "#333333"}});
  add_text(g, f.left + f.width / 2, f.bottom() + 38, title, "middle", "axis-label");
}

void y_axis(pugi::xml_node svg, const Frame& f, const std::vector<Tick>& ticks, const std::string& title, bool grid) {
  pugi::xml_node g = add(svg, "g", {{"class", "y-axis"}});
  for (const auto& t : ticks) {
    if (grid)
      add(g, "line", {{"x1", px(f.left)}, {"x2", px(f.right())}, {"y1", px(t.pos)}, {"y2", px(t.pos)},
                      {"stroke", "#e5e5e5"}});
    add(g, "line", {{"x1", px(f.left - 5)}, {"x2", px(f.left)}, {"y1", px(t.pos)}, {"y2", px(t.pos)},
                    {"stroke", "#333333"}});
    add_text(g, f.left - 8, t.pos + 4, t.label, "end", "tick");
  }
  add(g, "line", {{"x1", px(f.left)}, {"x2", px(f.left)}, {"y1", px(f.top)}, {"y2", px(f.bottom())},
                  {"stroke", "#333333"}});
  const double x = f.left - 52, y = f.top + f.height / 2;
  add_text(g, x, y, title, "middle", "axis-label")
      .append_attribute("transform")
      .set_value(("rotate(-90 " + px(x) + " " + px(y) + ")").c_str());
}

pugi::xml_node marker(pugi::xml_node parent, const std::string& shape, double x, double y, const std::string& colour,
                      double r) {
  auto poly = [&](std::vector<std::pair<double, double>> pts) {
    std::string p;
    for (auto [dx, dy] : pts) p += cat(p.empty() ? "" : " ", px(x + dx * r), ",", px(y + dy * r));
    return add(parent, "polygon", {{"points", p}, {"fill", colour}, {"stroke", "#222222"}, {"stroke-width", "0.6"}});
  };
  if (shape == "square") return poly({{-1, -1}, {1, -1}, {1, 1}, {-1, 1}});
  if (shape == "diamond") return poly({{0, -1.3}, {1.3, 0}, {0, 1.3}, {-1.3, 0}});
  if (shape == "triangle") return poly({{0, -1.3}, {1.2, 0.9}, {-1.2, 0.9}});
  if (shape == "star") {
    std::vector<std::pair<double, double>> pts;
    for (int i = 0; i < 10; ++i) {
      const double a = -M_PI / 2 + i * M_PI / 5, rr = i % 2 ? 0.8 : 1.9;
      pts.push_back({rr * std::cos(a), rr * std::sin(a)});
    }
    return poly(pts);
  }
  return add(parent, "circle", {{"cx", px(x)}, {"cy", px(y)}, {"r", px(r)}, {"fill", colour},
                                {"stroke", "#222222"}, {"stroke-width", "0.6"}});
}

void legend(pugi::xml_node svg, double x, double y, const std::vector<LegendItem>& items) {
  if (items.empty()) return;
  pugi::xml_node g = add(svg, "g", {{"class", "legend"}});
  const double row = 18, w = 176;
  add(g, "rect", {{"x", px(x)}, {"y", px(y)}, {"width", px(w)}, {"height", px(row * items.size() + 8)},
                  {"fill", "#ffffff"}, {"stroke", "#cccccc"}});
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& it = items[i];
    const double cy = y + 4 + row * i + row / 2;
    if (it.line) {
      pugi::xml_node l = add(g, "line", {{"x1", px(x + 6)}, {"x2", px(x + 30)}, {"y1", px(cy)}, {"y2", px(cy)},
                                         {"stroke", it.colour}, {"stroke-width", "2"}});
      if (it.dashed) l.append_attribute("stroke-dasharray").set_value("5,3");
    }
    if (!it.marker.empty()) marker(g, it.marker, x + 18, cy, it.colour, 4);
    std::string label = it.label;
    if (label.size() > 26) {  // cut at a UTF-8 character boundary
      size_t cut = 25;
      while (cut > 0 && (static_cast<unsigned char>(label[cut]) & 0xC0) == 0x80) --cut;
      label = label.substr(0, cut) + "…";
    }
    add_text(g, x + 36, cy + 4, label, "start", "legend-label");
  }
}

}  // namespace eeb::svg
