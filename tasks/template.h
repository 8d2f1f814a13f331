// The Jinja subset that lm-evaluation-harness task YAMLs use, evaluated with Jinja's semantics as
// lm-eval configures it (StrictUndefined: a missing field is an error; keep_trailing_newline; no
// block trimming except explicit {%- -%}):
//   {{ expr }}   {% if e %}...{% elif e %}...{% else %}...{% endif %}   {% for x in e %}...{% endfor %}
//   {% set x = e %}   {# comment #}
//   expr: names, 'strings' "strings", integers, true/false/none, [lists], (e), a.b, a[0], a['k'],
//         a[i:j] (Python slices; strings by code point), + - (ints; + joins strings and lists), ~,
//         == != < <= > >= in, not in, and, or, not,
//         methods strip() lstrip() rstrip() lower() upper() replace(a, b),
//         filters |join(sep) |length |lower |upper |trim |first |last; loop.index/index0/first/last.
// A value rendered by {{ }} is written as Python's str() would (lists as their repr), since lm-eval
// renders through Jinja and then, for doc_to_choice, ast.literal_eval's the text.
// Anything else is rejected when the template is compiled: TemplateError names the construct.
#pragma once
#include <memory>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace eeb {

// Thrown with a message that does not name the file: the spec reader adds "file:line: key: ".
struct TemplateError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Template {
 public:
  // Throws TemplateError for a syntax error or an unsupported construct.
  explicit Template(const std::string& source);
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  // The rendered text. Throws TemplateError for a missing field, a bad index or a type error.
  std::string render(const nlohmann::json& doc) const;
  // When the template is one {{ expr }} (after any {% set %}), the expression's value itself;
  // otherwise the rendered text as a string (what lm-eval's doc_to_choice / doc_to_target see
  // after literal_eval, for lists of strings and integers).
  nlohmann::json value(const nlohmann::json& doc) const;
  const std::string& source() const { return source_; }

 private:
  struct Impl;
  std::string source_;
  std::unique_ptr<Impl> impl_;
};

// Python's str() of a JSON value (strings as is, lists and dicts as their repr, True/False/None).
std::string py_str(const nlohmann::json& v);
std::string py_repr(const nlohmann::json& v);

}  // namespace eeb
