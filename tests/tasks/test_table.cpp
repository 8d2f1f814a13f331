// CSV (RFC 4180) and TSV readers, and the Python-compatible whitespace helpers.
#include <string>
#include <vector>

#include "tasks/table.h"
#include "tasks/text.h"
#include "tests/tasks/task_test_util.h"

using eeb::parse_csv;
using eeb::parse_tsv;
using eeb::testing::require_error;
using Fields = std::vector<std::string>;

TEST_CASE("CSV: plain, quoted, escaped quotes, embedded commas and newlines") {
  const auto rows = parse_csv(
      "a,b,c\n"
      "\"x, y\",\"say \"\"hi\"\"\",plain\n"
      "\"multi\nline\",,\"\"\n"
      "last,row,here",
      "t.csv");
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].fields == Fields{"a", "b", "c"});
  CHECK(rows[1].fields == Fields{"x, y", "say \"hi\"", "plain"});
  CHECK(rows[2].fields == Fields{"multi\nline", "", ""});
  CHECK(rows[3].fields == Fields{"last", "row", "here"});
  CHECK(rows[0].line == 1);
  CHECK(rows[2].line == 3);
  CHECK(rows[3].line == 5);  // the quoted newline moved it down
}

TEST_CASE("CSV: CRLF records, CRLF inside quotes, BOM, trailing newlines") {
  const auto rows = parse_csv("\xEF\xBB\xBFq,a\r\n\"one\r\ntwo\",1\r\nz,2\r\n\r\n", "t.csv");
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].fields == Fields{"q", "a"});
  CHECK(rows[1].fields == Fields{"one\r\ntwo", "1"});
  CHECK(rows[2].fields == Fields{"z", "2"});
  CHECK(rows[2].line == 4);
  CHECK(parse_csv("only", "t.csv").front().fields == Fields{"only"});
  CHECK(parse_csv("a,\n", "t.csv").front().fields == Fields{"a", ""});
}

TEST_CASE("CSV: unterminated quote is an error naming file and line") {
  require_error([] { parse_csv("a,b\n\"open,b\nc,d\n", "data.csv"); },
                {"data.csv:2: ", "unterminated quoted field"});
}

TEST_CASE("CSV: wrong number of fields") {
  require_error([] { parse_csv("a,b,c\n1,2\n", "data.csv"); },
                {"data.csv:2: ", "expected 3 fields, found 2"});
  require_error([] { parse_csv("a,b\n1,2,3\n", "data.csv", 2); }, {"data.csv:2: ", "found 3"});
  require_error([] { parse_csv("a,b,c\n", "data.csv", 6); }, {"data.csv:1: ", "expected 6 fields"});
}

TEST_CASE("CSV: malformed quoting, bare CR, empty lines") {
  require_error([] { parse_csv("a,b\nx\"y,z\n", "d.csv"); }, {"d.csv:2: ", "quote inside an unquoted field"});
  require_error([] { parse_csv("\"a\"b,c\n", "d.csv"); }, {"d.csv:1: ", "after closing quote"});
  require_error([] { parse_csv("a,b\rc,d\n", "d.csv"); }, {"d.csv:1: ", "bare CR"});
  require_error([] { parse_csv("a,b\n\nc,d\n", "d.csv"); }, {"d.csv:2: ", "empty line"});
}

TEST_CASE("CSV and TSV: empty file") {
  require_error([] { parse_csv("", "e.csv"); }, {"e.csv: empty file"});
  require_error([] { parse_csv("\xEF\xBB\xBF", "e.csv"); }, {"e.csv: empty file"});
  require_error([] { parse_csv("\n\n", "e.csv"); }, {"e.csv: empty file"});
  require_error([] { parse_tsv("", "e.tsv"); }, {"e.tsv: empty file"});
  eeb::testing::TempDir dir;
  const std::string p = dir.write("empty.csv", "");
  require_error([&] { eeb::read_csv(p); }, {p + ": empty file"});
  require_error([&] { eeb::read_csv(dir.str() + "/missing.csv"); }, {"missing.csv: file not found"});
}

TEST_CASE("TSV: no quoting, CRLF accepted, strict field count") {
  const auto rows = parse_tsv("sentence\tlabel\n\"quoted\" stays , as is \t1\r\ntrailing space \t0\n", "t.tsv");
  REQUIRE(rows.size() == 3);
  CHECK(rows[1].fields == Fields{"\"quoted\" stays , as is ", "1"});
  CHECK(rows[2].fields == Fields{"trailing space ", "0"});
  CHECK(rows[2].line == 3);
  require_error([] { parse_tsv("a\tb\nx\n", "t.tsv"); }, {"t.tsv:2: ", "expected 2 fields, found 1"});
  require_error([] { parse_tsv("a\tb\nx\ty\tz\n", "t.tsv"); }, {"t.tsv:2: ", "found 3"});
  require_error([] { parse_tsv("a\tb\n\nx\ty\n", "t.tsv"); }, {"t.tsv:2: ", "empty line"});
}

TEST_CASE("Python-compatible strip and rstrip") {
  CHECK(eeb::py_strip("  x y \t\n") == "x y");
  CHECK(eeb::py_strip("") == "");
  CHECK(eeb::py_strip(" \n ") == "");
  // U+3000 ideographic space, U+00A0 no-break space, U+2028 line separator, \x1c: all str.isspace().
  CHECK(eeb::py_strip("\xE3\x80\x80x\xC2\xA0") == "x");
  CHECK(eeb::py_rstrip("a\xE2\x80\xA8\x1c") == "a");
  CHECK(eeb::py_rstrip_bytes("Answer: \n\n") == 3);
  CHECK(eeb::py_rstrip_bytes("Answer:") == 0);
  // Not whitespace: U+200B zero-width space, U+FEFF, a lone continuation byte.
  CHECK(eeb::py_rstrip_bytes("a\xE2\x80\x8B") == 0);
  CHECK(eeb::py_rstrip_bytes("a\xEF\xBB\xBF") == 0);
  CHECK(eeb::py_rstrip_bytes("a \xA0") == 0);
  CHECK(eeb::py_lstrip_bytes("\xA0 a") == 0);
  CHECK(eeb::py_lstrip_bytes("\xC2\xA0 a") == 3);
}
