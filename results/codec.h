// How values are written to and read from the results database's columns (internal to results/).
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace eeb::sql {

// Compact JSON; invalid UTF-8 in strings is replaced rather than thrown.
inline std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Columns that hold a JSON object: a null json (what `{}` in an aggregate initializer gives) is
// stored as the empty object.
inline std::string dump_object(const nlohmann::json& j) { return j.is_null() ? "{}" : dump_json(j); }

// Stored JSON; empty (or NULL) text reads as `empty`. Corrupt text: Error naming where it was.
inline nlohmann::json parse_json(const std::string& text, const nlohmann::json& empty, const std::string& path,
                                 const std::string& where) {
  if (text.empty()) return empty;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) throw Error(path, "corrupt JSON in " + where);
  return j;
}

// Log-likelihoods as a JSON array; JSON has no infinities, so non-finite values are strings.
inline std::string encode_loglik(const std::vector<double>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (double x : v) {
    if (std::isfinite(x)) a.push_back(x);
    else a.push_back(std::isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
  }
  return a.dump();
}

inline std::vector<double> decode_loglik(const std::string& text, const std::string& path,
                                         const std::string& where) {
  auto j = parse_json(text, nlohmann::json::array(), path, where);
  if (!j.is_array()) throw Error(path, "corrupt loglik in " + where + " (not an array)");
  std::vector<double> out;
  out.reserve(j.size());
  for (const auto& x : j) {
    if (x.is_number()) out.push_back(x.get<double>());
    else if (x == "inf") out.push_back(INFINITY);
    else if (x == "-inf") out.push_back(-INFINITY);
    else if (x == "nan") out.push_back(NAN);
    else throw Error(path, "corrupt loglik in " + where + " (" + dump_json(x) + ")");
  }
  return out;
}

// REAL columns: NaN is stored as NULL (SQLite has no NaN) and read back as NaN.
inline double real_or_nan(bool is_null, double v) { return is_null ? NAN : v; }

}  // namespace eeb::sql
