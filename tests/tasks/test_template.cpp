// The Jinja-subset evaluator: expected strings written by hand from Jinja's / Python's semantics.
#include <string>

#include <nlohmann/json.hpp>

#include "tasks/template.h"
#include "tests/tasks/task_test_util.h"

using eeb::Template;
using json = nlohmann::json;

namespace {

std::string r(const std::string& t, const json& doc) { return Template(t).render(doc); }

void bad(const std::string& t, const std::string& part) {
  INFO("template: " << t);
  try {
    Template tt(t);
    tt.render(json{{"a", "x"}, {"n", 3}, {"l", json::array({"p", "q"})}});
  } catch (const eeb::TemplateError& e) {
    const std::string m = e.what();
    INFO("message: " << m);
    CHECK(m.find(part) != std::string::npos);
    CHECK(m.find('\n') == std::string::npos);
    return;
  }
  FAIL("expected a TemplateError");
}

}  // namespace

TEST_CASE("template: fields, attributes, indexes, methods, filters") {
  const json doc = {{"passage", "P."},       {"question", "  is it  "},
                    {"choices", {{"text", {"a", "b", "c"}}, {"label", {"A", "B", "C"}}}},
                    {"label", 1},            {"words", {"x", "y", "z"}},
                    {"text", "héllo world"}, {"pronoun", "he"},
                    {"loc", 6}};
  CHECK(r("{{passage}}\nQuestion: {{question}}?\nAnswer:", doc) == "P.\nQuestion:   is it  ?\nAnswer:");
  CHECK(r("{{ question.strip() }}|{{question.rstrip()}}|{{question.lstrip()}}", doc) == "is it|  is it|is it  ");
  CHECK(r("{{choices['text'][0]}}{{choices.text[2]}}{{choices[\"label\"][-1]}}", doc) == "acC");
  CHECK(r("{{words|join(', ')}}/{{words|join}}/{{words|length}}", doc) == "x, y, z/xyz/3");
  CHECK(r("{{text[:2]}}|{{text[6:]}}|{{text[-5:]}}|{{text[1]}}|{{text|length}}", doc) == "hé|world|world|é|11");
  CHECK(r("{% set i = loc + pronoun|length %}{{text[i:]}}", doc) == "rld");
  CHECK(r("{{label}} {{label + 1}} {{label - 2}} {{'a' ~ label}}", doc) == "1 2 -1 a1");
  CHECK(r("{{[passage, 'it\\'s']}}", doc) == "['P.', \"it's\"]");  // Python repr
  CHECK(r("{{true}} {{none}} {{words[1:]}}", doc) == "True None ['y', 'z']");
  CHECK(r("{{ passage.lower() }}{{ passage|upper }}{{ 'a-b'.replace('-', '+') }}{{ question|trim }}", doc) ==
        "p.P.a+bis it");
  // Trailing newlines are kept (lm-eval's keep_trailing_newline=True).
  CHECK(r("x\n", doc) == "x\n");
}

TEST_CASE("template: for, if, set, whitespace control, values") {
  const json doc = {{"items", {"a", "b", "c"}}, {"n", 2}, {"s", "q"}};
  CHECK(r("{% for x in items %}{{loop.index}}.{{x}}{% if not loop.last %}, {% endif %}{% endfor %}", doc) ==
        "1.a, 2.b, 3.c");
  CHECK(r("{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %}", doc) == "two");
  CHECK(r("{% if 'b' in items and s != 'x' %}yes{% else %}no{% endif %}", doc) == "yes");
  CHECK(r("{% if n > 5 or s not in 'abc' %}T{% endif %}", doc) == "T");
  CHECK(r("a  {%- if n %}  b  {%- endif -%}  c", doc) == "a  bc");
  CHECK(r("{# note #}x{{ n }}", doc) == "x2");
  CHECK(Template("{{[s, s + s]}}").value(doc) == json::array({"q", "qq"}));
  CHECK(Template("{% set t = s %}{{[t, 'z']}}").value(doc) == json::array({"q", "z"}));
  CHECK(Template("{{n}}").value(doc) == json(2));
  CHECK(Template("x{{n}}").value(doc) == json("x2"));
}

TEST_CASE("template: unsupported constructs and runtime errors are one line, naming the construct") {
  bad("{% macro m() %}{% endmacro %}", "unsupported construct: '{% macro %}'");
  bad("{{ a|title }}", "filter 'title'");
  bad("{{ a.split() }}", "method 'split()'");
  bad("{{ a if n else a }}", "inline 'if'");
  bad("{{ range(3) }}", "function call");
  bad("{{ a[::2] }}", "slice step");
  bad("{{ 1.5 }}", "floating-point");
  bad("{{ a * 2 }}", "character '*'");
  bad("{% for k, v in l %}{% endfor %}", "only 'for NAME in EXPR'");
  bad("{% if n %}x", "without '{% endif %}'");
  bad("{% endfor %}", "without its opening tag");
  bad("{{ a ", "unclosed");
  bad("{{ missing }}", "'missing' is undefined");
  bad("{{ l[5] }}", "index 5 out of range for a list of 2");
  bad("{{ a + n }}", "cannot add string and integer");
  bad("{{ l|join(', ', 'x') }}", "join takes one argument");
  bad("{{ a.b }}", "has no attribute 'b'");
}

TEST_CASE("template: py_repr matches Python's repr") {
  CHECK(eeb::py_repr(json("a'b\"c\\\n")) == "'a\\'b\"c\\\\\\n'");
  CHECK(eeb::py_repr(json("it's")) == "\"it's\"");
  CHECK(eeb::py_repr(json::array({1, "x", nullptr, false})) == "[1, 'x', None, False]");
  CHECK(eeb::py_str(json("plain")) == "plain");
}
