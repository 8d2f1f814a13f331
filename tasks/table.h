// Strict readers for the task data files.
//
// CSV: RFC 4180 — fields separated by ',', records by CRLF or LF; a field may be quoted with '"',
// and then holds commas, line breaks and "" (one quote). A quote inside an unquoted field, text
// after a closing quote, a bare CR, an unterminated quote, an empty line between records and a
// record with the wrong number of fields are errors. A UTF-8 byte order mark is skipped.
// TSV (GLUE): fields separated by '\t', records by LF (CRLF accepted), no quoting at all.
//
// Every error is Error("<file>:<line>: <problem>"), the line being where the record starts.
// Empty lines at the very end of a file are ignored; an empty file is an error.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace eeb {

struct TableRow {
  size_t line = 0;  // 1-based line where the record starts
  std::vector<std::string> fields;
};

// `fields`: required number of fields per record; 0 = as many as the first record has.
std::vector<TableRow> parse_csv(std::string_view text, const std::string& origin, size_t fields = 0);
std::vector<TableRow> parse_tsv(std::string_view text, const std::string& origin, size_t fields = 0);

// Read a file (Error naming the path when it cannot be read) and parse it.
std::string read_text_file(const std::string& path);
std::vector<TableRow> read_csv(const std::string& path, size_t fields = 0);
std::vector<TableRow> read_tsv(const std::string& path, size_t fields = 0);

}  // namespace eeb
