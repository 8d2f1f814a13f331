#include "tasks/table.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace eeb {

namespace {

[[noreturn]] void fail(const std::string& origin, size_t line, const std::string& problem) {
  throw Error(origin + ":" + std::to_string(line), problem);
}

std::string_view skip_bom(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  return text;
}

void check_count(std::vector<TableRow>& rows, const std::string& origin, size_t& fields) {
  const TableRow& r = rows.back();
  if (fields == 0) fields = r.fields.size();
  if (r.fields.size() != fields)
    fail(origin, r.line, "expected " + std::to_string(fields) + " fields, found " +
                             std::to_string(r.fields.size()));
}

// True when only line breaks remain from `pos` on.
bool only_newlines_left(std::string_view t, size_t pos) {
  return t.find_first_not_of("\r\n", pos) == std::string_view::npos;
}

}  // namespace

std::vector<TableRow> parse_csv(std::string_view text, const std::string& origin, size_t fields) {
  text = skip_bom(text);
  if (text.empty()) throw Error(origin, "empty file");
  std::vector<TableRow> rows;
  size_t pos = 0, line = 1;
  const size_t n = text.size();
  while (pos < n) {
    if (only_newlines_left(text, pos)) break;
    if (text[pos] == '\n' || text[pos] == '\r') fail(origin, line, "empty line");
    rows.push_back({line, {}});
    auto& rec = rows.back().fields;
    bool end_of_record = false;
    while (!end_of_record) {
      std::string field;
      if (pos < n && text[pos] == '"') {  // quoted field
        const size_t start_line = line;
        ++pos;
        for (;;) {
          if (pos >= n) fail(origin, start_line, "unterminated quoted field");
          const char c = text[pos++];
          if (c == '"') {
            if (pos < n && text[pos] == '"') {
              field += '"';
              ++pos;
              continue;
            }
            break;
          }
          if (c == '\n') ++line;
          field += c;
        }
        if (pos < n && text[pos] != ',' && text[pos] != '\n' && text[pos] != '\r')
          fail(origin, line, "unexpected character after closing quote");
      } else {  // unquoted field
        while (pos < n && text[pos] != ',' && text[pos] != '\n' && text[pos] != '\r') {
          if (text[pos] == '"') fail(origin, line, "quote inside an unquoted field");
          field += text[pos++];
        }
      }
      rec.push_back(std::move(field));
      if (pos >= n) {
        end_of_record = true;
      } else if (text[pos] == ',') {
        ++pos;
      } else {  // line break
        if (text[pos] == '\r') {
          if (pos + 1 >= n || text[pos + 1] != '\n') fail(origin, line, "bare CR (expected CRLF)");
          ++pos;
        }
        ++pos;
        ++line;
        end_of_record = true;
      }
    }
    check_count(rows, origin, fields);
  }
  if (rows.empty()) throw Error(origin, "empty file");
  return rows;
}

std::vector<TableRow> parse_tsv(std::string_view text, const std::string& origin, size_t fields) {
  text = skip_bom(text);
  if (text.empty()) throw Error(origin, "empty file");
  std::vector<TableRow> rows;
  size_t pos = 0, line = 1;
  while (pos < text.size()) {
    if (only_newlines_left(text, pos)) break;
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view l = text.substr(pos, eol - pos);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.find('\r') != std::string_view::npos) fail(origin, line, "bare CR");
    if (l.empty()) fail(origin, line, "empty line");
    rows.push_back({line, {}});
    size_t start = 0;
    for (;;) {
      const size_t tab = l.find('\t', start);
      rows.back().fields.emplace_back(l.substr(start, tab == std::string_view::npos ? l.npos : tab - start));
      if (tab == std::string_view::npos) break;
      start = tab + 1;
    }
    check_count(rows, origin, fields);
    pos = eol + 1;
    ++line;
  }
  if (rows.empty()) throw Error(origin, "empty file");
  return rows;
}

std::string read_text_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(path, "file not found");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path, "cannot open file");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw Error(path, "read error");
  return ss.str();
}

std::vector<TableRow> read_csv(const std::string& path, size_t fields) {
  return parse_csv(read_text_file(path), path, fields);
}

std::vector<TableRow> read_tsv(const std::string& path, size_t fields) {
  return parse_tsv(read_text_file(path), path, fields);
}

}  // namespace eeb
