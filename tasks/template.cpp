#include "tasks/template.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <variant>
#include <vector>

#include "tasks/text.h"

namespace eeb {

using json = nlohmann::json;

namespace {

// Messages quote template text, which may span lines: line breaks are written as \n (one-line errors).
[[noreturn]] void fail(const std::string& m) {
  std::string one;
  for (char c : m) one += c == '\n' ? std::string("\\n") : c == '\r' ? std::string("\\r") : std::string(1, c);
  throw TemplateError(one);
}

// ---- Python str()/repr() -----------------------------------------------------------------------

std::string repr_string(const std::string& s) {
  const bool dq = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
  const char q = dq ? '"' : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == q) out += std::string("\\") + static_cast<char>(q);
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else out += static_cast<char>(c);
  }
  return out + q;
}

// ---- Code-point indexing for Python string slices ---------------------------------------------

std::vector<size_t> code_point_starts(const std::string& s) {
  std::vector<size_t> starts;
  for (size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) starts.push_back(i);
  return starts;
}

int64_t py_index(int64_t i, int64_t n, bool clamp) {
  if (i < 0) i += n;
  if (clamp) return std::max<int64_t>(0, std::min(i, n));
  return i;
}

// ---- Expressions -------------------------------------------------------------------------------

struct Expr;
using ExprP = std::unique_ptr<Expr>;

struct Expr {
  enum Kind { Lit, Name, List, Attr, Index, Slice, Call, Filter, Unary, Binary } kind;
  json lit;
  std::string name;           // Name, Attr, Call (method), Filter, Unary/Binary operator
  std::vector<ExprP> args;    // operands / list items / call arguments (args[0] = object)
  std::vector<bool> present;  // Slice: which of start/stop were given
};

// Nodes made for the expression being parsed: bounded, so that evaluation and destruction (both
// recursive) stay shallow on hostile input.
thread_local int g_nodes = 0;

ExprP make(Expr::Kind k) {
  if (++g_nodes > 2000) fail("unsupported construct: expression with more than 2000 parts");
  auto e = std::make_unique<Expr>();
  e->kind = k;
  return e;
}

class Lexer {
 public:
  explicit Lexer(std::string s) : s_(std::move(s)) {}
  struct Tok {
    enum T { End, Name, Str, Int, Op } t;
    std::string v;
  };
  Tok peek() {
    if (!have_) cur_ = next(), have_ = true;
    return cur_;
  }
  Tok take() {
    Tok t = peek();
    have_ = false;
    return t;
  }
  bool accept_op(const std::string& op) {
    if (peek().t == Tok::Op && cur_.v == op) return take(), true;
    return false;
  }
  bool accept_name(const std::string& n) {
    if (peek().t == Tok::Name && cur_.v == n) return take(), true;
    return false;
  }
  void expect_op(const std::string& op) {
    if (!accept_op(op)) fail("expected '" + op + "' in '" + s_ + "'");
  }
  const std::string& text() const { return s_; }

 private:
  Tok next() {
    while (p_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[p_]))) ++p_;
    if (p_ >= s_.size()) return {Tok::End, ""};
    const char c = s_[p_];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t b = p_;
      while (p_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[p_])) || s_[p_] == '_')) ++p_;
      return {Tok::Name, s_.substr(b, p_ - b)};
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t b = p_;
      while (p_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p_]))) ++p_;
      if (p_ < s_.size() && (s_[p_] == '.' || s_[p_] == 'e' || s_[p_] == 'E'))
        fail("unsupported construct: floating-point literal in '" + s_ + "'");
      return {Tok::Int, s_.substr(b, p_ - b)};
    }
    if (c == '\'' || c == '"') {
      std::string v;
      ++p_;
      for (;;) {
        if (p_ >= s_.size()) fail("unterminated string literal in '" + s_ + "'");
        char d = s_[p_++];
        if (d == c) break;
        if (d == '\\') {
          if (p_ >= s_.size()) fail("unterminated string literal in '" + s_ + "'");
          const char e = s_[p_++];
          switch (e) {
            case 'n': v += '\n'; break;
            case 't': v += '\t'; break;
            case 'r': v += '\r'; break;
            case '\\': case '\'': case '"': v += e; break;
            default: fail(std::string("unsupported construct: string escape '\\") + e + "'");
          }
          continue;
        }
        v += d;
      }
      return {Tok::Str, v};
    }
    static const char* two[] = {"==", "!=", "<=", ">=", "**", "//"};
    for (const char* t : two)
      if (s_.compare(p_, 2, t) == 0) {
        p_ += 2;
        if (std::string(t) == "**" || std::string(t) == "//")
          fail(std::string("unsupported construct: operator '") + t + "'");
        return {Tok::Op, t};
      }
    if (std::string("()[].,:|+-~<>=").find(c) != std::string::npos) {
      ++p_;
      return {Tok::Op, std::string(1, c)};
    }
    fail(std::string("unsupported construct: character '") + c + "' in '" + s_ + "'");
  }
  std::string s_;
  size_t p_ = 0;
  bool have_ = false;
  Tok cur_{Tok::End, ""};
};

class Parser {
 public:
  explicit Parser(Lexer& lx) : lx_(lx) {}
  ExprP expr() {
    // Nesting is bounded so hostile input cannot exhaust the stack.
    if (++depth_ > 100) fail("unsupported construct: expression nested more than 100 deep");
    auto e = or_();
    --depth_;
    return e;
  }

 private:
  ExprP bin(const std::string& op, ExprP a, ExprP b) {
    auto e = make(Expr::Binary);
    e->name = op;
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return e;
  }
  ExprP or_() {
    auto a = and_();
    while (lx_.accept_name("or")) a = bin("or", std::move(a), and_());
    return a;
  }
  ExprP and_() {
    auto a = not_();
    while (lx_.accept_name("and")) a = bin("and", std::move(a), not_());
    return a;
  }
  ExprP not_() {
    if (lx_.accept_name("not")) {
      auto e = make(Expr::Unary);
      e->name = "not";
      e->args.push_back(expr());
      return e;
    }
    return compare();
  }
  ExprP compare() {
    auto a = concat();
    for (const char* op : {"==", "!=", "<=", ">=", "<", ">"})
      if (lx_.accept_op(op)) return bin(op, std::move(a), concat());
    if (lx_.accept_name("in")) return bin("in", std::move(a), concat());
    if (lx_.peek().t == Lexer::Tok::Name && lx_.peek().v == "not") {
      lx_.take();
      if (!lx_.accept_name("in")) fail("unsupported construct: 'not' after an operand");
      return bin("not in", std::move(a), concat());
    }
    if (lx_.peek().t == Lexer::Tok::Name && lx_.peek().v == "is") fail("unsupported construct: 'is' tests");
    return a;
  }
  ExprP concat() {
    auto a = add();
    while (lx_.accept_op("~")) a = bin("~", std::move(a), add());
    return a;
  }
  ExprP add() {
    auto a = unary();
    for (;;) {
      if (lx_.accept_op("+")) a = bin("+", std::move(a), unary());
      else if (lx_.accept_op("-")) a = bin("-", std::move(a), unary());
      else return a;
    }
  }
  ExprP unary() {
    if (lx_.accept_op("-")) {
      auto e = make(Expr::Unary);
      e->name = "-";
      if (++depth_ > 100) fail("unsupported construct: expression nested more than 100 deep");
      e->args.push_back(unary());
      --depth_;
      return e;
    }
    auto a = postfix();
    while (lx_.accept_op("|")) {
      const auto t = lx_.take();
      if (t.t != Lexer::Tok::Name) fail("expected a filter name after '|'");
      static const std::vector<std::string> known = {"join", "length", "count", "lower", "upper", "trim", "first", "last"};
      if (std::find(known.begin(), known.end(), t.v) == known.end())
        fail("unsupported construct: filter '" + t.v + "'");
      auto f = make(Expr::Filter);
      f->name = t.v;
      f->args.push_back(std::move(a));
      if (lx_.accept_op("(")) call_args(*f);
      a = std::move(f);
    }
    return a;
  }
  void call_args(Expr& e) {
    if (lx_.accept_op(")")) return;
    for (;;) {
      if (lx_.peek().t == Lexer::Tok::Name) {  // keyword arguments are not supported
        Lexer probe = lx_;
        probe.take();
        if (probe.accept_op("=")) fail("unsupported construct: keyword argument '" + lx_.peek().v + "='");
      }
      e.args.push_back(expr());
      if (lx_.accept_op(")")) return;
      lx_.expect_op(",");
    }
  }
  ExprP postfix() {
    auto a = primary();
    for (;;) {
      if (lx_.accept_op(".")) {
        const auto t = lx_.take();
        if (t.t != Lexer::Tok::Name) fail("expected a name after '.'");
        if (lx_.accept_op("(")) {
          static const std::vector<std::string> known = {"strip", "lstrip", "rstrip", "lower", "upper", "replace"};
          if (std::find(known.begin(), known.end(), t.v) == known.end())
            fail("unsupported construct: method '" + t.v + "()'");
          auto c = make(Expr::Call);
          c->name = t.v;
          c->args.push_back(std::move(a));
          call_args(*c);
          a = std::move(c);
        } else {
          auto at = make(Expr::Attr);
          at->name = t.v;
          at->args.push_back(std::move(a));
          a = std::move(at);
        }
      } else if (lx_.accept_op("[")) {
        ExprP start, stop;
        if (!(lx_.peek().t == Lexer::Tok::Op && lx_.peek().v == ":")) start = expr();
        if (lx_.accept_op(":")) {
          if (lx_.peek().t == Lexer::Tok::Op && lx_.peek().v == ":") fail("unsupported construct: slice step");
          if (!(lx_.peek().t == Lexer::Tok::Op && lx_.peek().v == "]")) stop = expr();
          if (lx_.peek().t == Lexer::Tok::Op && lx_.peek().v == ":") fail("unsupported construct: slice step");
          lx_.expect_op("]");
          auto s = make(Expr::Slice);
          s->args.push_back(std::move(a));
          s->present = {static_cast<bool>(start), static_cast<bool>(stop)};
          if (!start) start = make(Expr::Lit);
          if (!stop) stop = make(Expr::Lit);
          s->args.push_back(std::move(start));
          s->args.push_back(std::move(stop));
          a = std::move(s);
        } else {
          lx_.expect_op("]");
          auto ix = make(Expr::Index);
          ix->args.push_back(std::move(a));
          ix->args.push_back(std::move(start));
          a = std::move(ix);
        }
      } else if (lx_.peek().t == Lexer::Tok::Op && lx_.peek().v == "(") {
        fail("unsupported construct: function call");
      } else {
        return a;
      }
    }
  }
  ExprP primary() {
    const auto t = lx_.take();
    switch (t.t) {
      case Lexer::Tok::Str: {
        auto e = make(Expr::Lit);
        e->lit = t.v;
        return e;
      }
      case Lexer::Tok::Int: {
        auto e = make(Expr::Lit);
        if (t.v.size() > 18) fail("integer literal too large: " + t.v);
        e->lit = std::stoll(t.v);
        return e;
      }
      case Lexer::Tok::Name: {
        auto e = make(Expr::Lit);
        if (t.v == "true" || t.v == "True" || t.v == "false" || t.v == "False") {
          e->lit = t.v[0] == 't' || t.v[0] == 'T';
          return e;
        }
        if (t.v == "none" || t.v == "None") return e;
        static const std::vector<std::string> kw = {"if", "else", "for", "in", "and", "or", "not", "is", "lambda"};
        if (std::find(kw.begin(), kw.end(), t.v) != kw.end())
          fail("unsupported construct: '" + t.v + "' inside an expression");
        e->kind = Expr::Name;
        e->name = t.v;
        return e;
      }
      case Lexer::Tok::Op:
        if (t.v == "(") {
          auto e = expr();
          if (lx_.accept_op(",")) fail("unsupported construct: tuple");
          lx_.expect_op(")");
          return e;
        }
        if (t.v == "[") {
          auto e = make(Expr::List);
          if (lx_.accept_op("]")) return e;
          for (;;) {
            e->args.push_back(expr());
            if (lx_.accept_op("]")) return e;
            lx_.expect_op(",");
          }
        }
        if (t.v == "{") fail("unsupported construct: dict literal");
        fail("unexpected '" + t.v + "' in '" + lx_.text() + "'");
      case Lexer::Tok::End:
        fail("expression ends early: '" + lx_.text() + "'");
    }
    fail("bad expression");
  }
  Lexer& lx_;
  int depth_ = 0;
};

ExprP parse_expr(const std::string& s) {
  g_nodes = 0;
  Lexer lx(s);
  Parser p(lx);
  auto e = p.expr();
  if (lx.peek().t != Lexer::Tok::End) {
    const auto t = lx.peek();
    if (t.t == Lexer::Tok::Name && t.v == "if") fail("unsupported construct: inline 'if' expression in '" + s + "'");
    fail("unsupported construct: '" + t.v + "' after the expression in '" + s + "'");
  }
  return e;
}

// ---- Statements --------------------------------------------------------------------------------

struct Node {
  enum Kind { Text, Output, For, If, Set } kind;
  std::string text;  // Text; For/Set: variable name
  ExprP expr;        // Output, For (iterable), Set
  std::vector<std::pair<ExprP, std::vector<Node>>> branches;  // If (cond null = else); For: [0] body
};

using Scope = std::map<std::string, json>;

struct Env {
  const json& doc;
  std::vector<Scope> scopes;
  const json* lookup(const std::string& n) const {
    for (auto it = scopes.rbegin(); it != scopes.rend(); ++it) {
      auto f = it->find(n);
      if (f != it->end()) return &f->second;
    }
    if (doc.is_object()) {
      auto f = doc.find(n);
      if (f != doc.end()) return &*f;
    }
    return nullptr;
  }
};

std::string type_name(const json& v) {
  if (v.is_string()) return "string";
  if (v.is_number_integer()) return "integer";
  if (v.is_array()) return "list";
  if (v.is_object()) return "dict";
  if (v.is_boolean()) return "bool";
  if (v.is_null()) return "none";
  return "number";
}

bool truthy(const json& v) {
  if (v.is_null()) return false;
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_integer()) return v.get<int64_t>() != 0;
  if (v.is_number()) return v.get<double>() != 0;
  if (v.is_string() || v.is_array() || v.is_object()) return !v.empty();
  return true;
}

json eval(const Expr& e, Env& env);

int64_t as_int(const json& v, const char* what) {
  if (!v.is_number_integer()) fail(std::string(what) + " must be an integer, got " + type_name(v));
  return v.get<int64_t>();
}

json eval(const Expr& e, Env& env) {
  switch (e.kind) {
    case Expr::Lit: return e.lit;
    case Expr::Name: {
      const json* v = env.lookup(e.name);
      if (!v) fail("'" + e.name + "' is undefined (no such field in the document)");
      return *v;
    }
    case Expr::List: {
      json a = json::array();
      for (const auto& x : e.args) a.push_back(eval(*x, env));
      return a;
    }
    case Expr::Attr: {
      const json o = eval(*e.args[0], env);
      if (!o.is_object() || !o.contains(e.name)) fail("'" + type_name(o) + "' has no attribute '" + e.name + "'");
      return o[e.name];
    }
    case Expr::Index: {
      const json o = eval(*e.args[0], env);
      const json k = eval(*e.args[1], env);
      if (o.is_object()) {
        if (!k.is_string() || !o.contains(k.get<std::string>())) fail("key " + py_repr(k) + " not in the dict");
        return o[k.get<std::string>()];
      }
      const int64_t i0 = as_int(k, "an index");
      if (o.is_array()) {
        const int64_t i = py_index(i0, static_cast<int64_t>(o.size()), false);
        if (i < 0 || i >= static_cast<int64_t>(o.size()))
          fail("index " + std::to_string(i0) + " out of range for a list of " + std::to_string(o.size()));
        return o[static_cast<size_t>(i)];
      }
      if (o.is_string()) {
        const std::string s = o.get<std::string>();
        const auto cp = code_point_starts(s);
        const int64_t i = py_index(i0, static_cast<int64_t>(cp.size()), false);
        if (i < 0 || i >= static_cast<int64_t>(cp.size()))
          fail("index " + std::to_string(i0) + " out of range for a string of " + std::to_string(cp.size()));
        const size_t b = cp[static_cast<size_t>(i)];
        const size_t end = static_cast<size_t>(i) + 1 < cp.size() ? cp[static_cast<size_t>(i) + 1] : s.size();
        return s.substr(b, end - b);
      }
      fail("cannot index a " + type_name(o));
    }
    case Expr::Slice: {
      const json o = eval(*e.args[0], env);
      const int64_t n = o.is_array() ? static_cast<int64_t>(o.size())
                        : o.is_string() ? static_cast<int64_t>(code_point_starts(o.get<std::string>()).size())
                                        : (fail("cannot slice a " + type_name(o)), 0);
      const int64_t a = e.present[0] ? py_index(as_int(eval(*e.args[1], env), "a slice bound"), n, true) : 0;
      int64_t b = e.present[1] ? py_index(as_int(eval(*e.args[2], env), "a slice bound"), n, true) : n;
      if (b < a) b = a;
      if (o.is_array()) return json(std::vector<json>(o.begin() + a, o.begin() + b));
      const std::string s = o.get<std::string>();
      const auto cp = code_point_starts(s);
      const size_t sb = a < n ? cp[static_cast<size_t>(a)] : s.size();
      const size_t se = b < n ? cp[static_cast<size_t>(b)] : s.size();
      return s.substr(sb, se - sb);
    }
    case Expr::Call: {
      const json o = eval(*e.args[0], env);
      if (!o.is_string()) fail("method " + e.name + "() needs a string, got " + type_name(o));
      const std::string s = o.get<std::string>();
      const size_t nargs = e.args.size() - 1;
      if (e.name == "replace") {
        if (nargs != 2) fail("replace() takes 2 arguments");
        const json f = eval(*e.args[1], env), t = eval(*e.args[2], env);
        if (!f.is_string() || !t.is_string()) fail("replace() arguments must be strings");
        const std::string from = f.get<std::string>(), to = t.get<std::string>();
        if (from.empty()) fail("unsupported construct: replace('') of an empty string");
        std::string out;
        size_t p = 0;
        for (size_t q; (q = s.find(from, p)) != std::string::npos; p = q + from.size()) {
          out += s.substr(p, q - p) + to;
          if (out.size() > (1u << 24)) fail("a value larger than 16 MiB");
        }
        return out + s.substr(p);
      }
      if (nargs != 0) fail("unsupported construct: " + e.name + "() with arguments");
      if (e.name == "strip") return py_strip(s);
      if (e.name == "rstrip") return py_rstrip(s);
      if (e.name == "lstrip") return s.substr(py_lstrip_bytes(s));
      std::string out = s;  // lower/upper: ASCII only, as the YAMLs need
      for (auto& c : out) c = static_cast<char>(e.name == "lower" ? std::tolower(static_cast<unsigned char>(c))
                                                                : std::toupper(static_cast<unsigned char>(c)));
      return out;
    }
    case Expr::Filter: {
      const json o = eval(*e.args[0], env);
      if (e.name == "join") {
        if (!o.is_array()) fail("join needs a list, got " + type_name(o));
        std::string sep;
        if (e.args.size() > 2) fail("join takes one argument");
        if (e.args.size() == 2) {
          const json s = eval(*e.args[1], env);
          if (!s.is_string()) fail("join separator must be a string");
          sep = s.get<std::string>();
        }
        std::string out;
        for (size_t i = 0; i < o.size(); ++i) {
          out += (i ? sep : "") + py_str(o[i]);
          if (out.size() > (1u << 24)) fail("a value larger than 16 MiB");
        }
        return out;
      }
      if (e.args.size() != 1) fail("filter " + e.name + " takes no arguments");
      if (e.name == "length" || e.name == "count") {
        if (o.is_string()) return static_cast<int64_t>(code_point_starts(o.get<std::string>()).size());
        if (o.is_array() || o.is_object()) return static_cast<int64_t>(o.size());
        fail("length of a " + type_name(o));
      }
      if (e.name == "first" || e.name == "last") {
        if (!o.is_array() || o.empty()) fail(e.name + " of an empty or non-list value");
        return e.name == "first" ? o.front() : o.back();
      }
      if (!o.is_string()) fail("filter " + e.name + " needs a string, got " + type_name(o));
      const std::string s = o.get<std::string>();
      if (e.name == "trim") return py_strip(s);
      std::string out = s;
      for (auto& c : out) c = static_cast<char>(e.name == "lower" ? std::tolower(static_cast<unsigned char>(c))
                                                                : std::toupper(static_cast<unsigned char>(c)));
      return out;
    }
    case Expr::Unary: {
      const json v = eval(*e.args[0], env);
      if (e.name == "not") return !truthy(v);
      return -as_int(v, "the operand of unary '-'");
    }
    case Expr::Binary: {
      if (e.name == "and") {
        json a = eval(*e.args[0], env);
        return truthy(a) ? eval(*e.args[1], env) : a;
      }
      if (e.name == "or") {
        json a = eval(*e.args[0], env);
        return truthy(a) ? a : eval(*e.args[1], env);
      }
      const json a = eval(*e.args[0], env), b = eval(*e.args[1], env);
      const std::string& op = e.name;
      const auto size_of = [](const json& v) { return v.is_string() ? v.get_ref<const std::string&>().size() : v.size(); };
      if ((op == "~" || op == "+") && size_of(a) + size_of(b) > (1u << 24))
        fail("a value larger than 16 MiB");  // repeated doubling in {% set %} is bounded here
      if (op == "~") return py_str(a) + py_str(b);
      if (op == "+") {
        if (a.is_string() && b.is_string()) return a.get<std::string>() + b.get<std::string>();
        if (a.is_array() && b.is_array()) {
          json r = a;
          for (const auto& x : b) r.push_back(x);
          return r;
        }
        if (a.is_number_integer() && b.is_number_integer()) return a.get<int64_t>() + b.get<int64_t>();
        fail("cannot add " + type_name(a) + " and " + type_name(b));
      }
      if (op == "-") return as_int(a, "'-' operand") - as_int(b, "'-' operand");
      if (op == "==") return a == b;
      if (op == "!=") return a != b;
      if (op == "in" || op == "not in") {
        bool found;
        if (b.is_string()) {
          if (!a.is_string()) fail("'in <string>' needs a string on the left");
          found = b.get<std::string>().find(a.get<std::string>()) != std::string::npos;
        } else if (b.is_array()) {
          found = std::find(b.begin(), b.end(), a) != b.end();
        } else if (b.is_object()) {
          found = a.is_string() && b.contains(a.get<std::string>());
        } else {
          fail("'in' needs a string, list or dict on the right");
        }
        return op == "in" ? found : !found;
      }
      if (!((a.is_number_integer() && b.is_number_integer()) || (a.is_string() && b.is_string())))
        fail("cannot compare " + type_name(a) + " and " + type_name(b) + " with " + op);
      if (op == "<") return a < b;
      if (op == ">") return a > b;
      if (op == "<=") return a <= b;
      return a >= b;
    }
  }
  fail("bad expression");
}

// Work per render is bounded (nested loops could otherwise run for ever on hostile input).
constexpr size_t kMaxSteps = 10'000'000, kMaxOutput = 64u << 20;

void run(const std::vector<Node>& nodes, Env& env, std::string& out, size_t& steps) {
  for (const auto& n : nodes) {
    if (++steps > kMaxSteps) fail("template needs more than 10 million steps");
    if (out.size() > kMaxOutput) fail("rendered text larger than 64 MiB");
    switch (n.kind) {
      case Node::Text: out += n.text; break;
      case Node::Output: out += py_str(eval(*n.expr, env)); break;
      case Node::Set: env.scopes.back()[n.text] = eval(*n.expr, env); break;
      case Node::If:
        for (const auto& [cond, body] : n.branches)
          if (!cond || truthy(eval(*cond, env))) {
            run(body, env, out, steps);
            break;
          }
        break;
      case Node::For: {
        const json seq = eval(*n.expr, env);
        if (!seq.is_array()) fail("for loop over a " + type_name(seq) + " (lists only)");
        for (size_t i = 0; i < seq.size(); ++i) {
          env.scopes.push_back({});
          env.scopes.back()[n.text] = seq[i];
          env.scopes.back()["loop"] = json{{"index", static_cast<int64_t>(i + 1)},
                                           {"index0", static_cast<int64_t>(i)},
                                           {"first", i == 0},
                                           {"last", i + 1 == seq.size()},
                                           {"length", static_cast<int64_t>(seq.size())}};
          run(n.branches[0].second, env, out, steps);
          env.scopes.pop_back();
        }
        break;
      }
    }
  }
}

// ---- Template text → nodes ---------------------------------------------------------------------

struct Piece {
  enum Kind { Text, Output, Stmt } kind;
  std::string body;
};

std::vector<Piece> split_pieces(const std::string& s) {
  std::vector<Piece> out;
  size_t p = 0;
  bool trim_next = false;
  while (p < s.size()) {
    const size_t open = s.find('{', p);
    size_t tag = open;
    while (tag != std::string::npos && tag + 1 < s.size() && s[tag + 1] != '{' && s[tag + 1] != '%' && s[tag + 1] != '#')
      tag = s.find('{', tag + 1);
    if (tag == std::string::npos || tag + 1 >= s.size()) {
      std::string t = s.substr(p);
      if (trim_next) t = t.substr(py_lstrip_bytes(t));
      if (!t.empty()) out.push_back({Piece::Text, t});
      break;
    }
    std::string t = s.substr(p, tag - p);
    if (trim_next) t = t.substr(py_lstrip_bytes(t));
    const char kind = s[tag + 1];
    const bool trim_before = tag + 2 < s.size() && s[tag + 2] == '-';
    if (trim_before) t = py_rstrip(t);
    if (!t.empty()) out.push_back({Piece::Text, t});
    const std::string close = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
    const size_t start = tag + 2 + (trim_before ? 1 : 0);
    const size_t end = s.find(close, start);
    if (end == std::string::npos) fail("unclosed '{" + std::string(1, kind) + "'");
    std::string body = s.substr(start, end - start);
    trim_next = !body.empty() && body.back() == '-';
    if (trim_next) body.pop_back();
    p = end + 2;
    if (kind == '#') continue;
    out.push_back({kind == '{' ? Piece::Output : Piece::Stmt, body});
  }
  return out;
}

std::string first_word(const std::string& s, std::string* rest) {
  const std::string t = py_strip(s);
  size_t e = 0;
  while (e < t.size() && (std::isalnum(static_cast<unsigned char>(t[e])) || t[e] == '_')) ++e;
  if (rest) *rest = t.substr(e);
  return t.substr(0, e);
}

// Parses pieces[i..] into nodes until one of `stops` (returned in *stop); "" = end of template.
std::vector<Node> parse_nodes(const std::vector<Piece>& pieces, size_t& i, const std::vector<std::string>& stops,
                              std::string* stop, std::string* stop_rest, int depth = 0) {
  if (depth > 50) fail("unsupported construct: blocks nested more than 50 deep");
  std::vector<Node> nodes;
  while (i < pieces.size()) {
    const Piece& pc = pieces[i++];
    if (pc.kind == Piece::Text) {
      nodes.push_back({Node::Text, pc.body, nullptr, {}});
      continue;
    }
    if (pc.kind == Piece::Output) {
      nodes.push_back({Node::Output, "", parse_expr(pc.body), {}});
      continue;
    }
    std::string rest;
    const std::string w = first_word(pc.body, &rest);
    if (std::find(stops.begin(), stops.end(), w) != stops.end()) {
      *stop = w;
      *stop_rest = rest;
      return nodes;
    }
    if (w == "if") {
      Node n{Node::If, "", nullptr, {}};
      std::string cond = rest;
      for (;;) {
        std::string s, srest;
        auto body = parse_nodes(pieces, i, {"elif", "else", "endif"}, &s, &srest, depth + 1);
        n.branches.emplace_back(cond.empty() ? nullptr : parse_expr(cond), std::move(body));
        if (s.empty()) fail("'{% if %}' without '{% endif %}'");
        if (s == "endif") break;
        if (s == "elif") {
          if (py_strip(srest).empty()) fail("'{% elif %}' without a condition");
          cond = srest;
        } else {
          if (!py_strip(srest).empty()) fail("unsupported construct: text after '{% else'");
          cond.clear();
          std::string s2, r2;
          auto eb = parse_nodes(pieces, i, {"endif"}, &s2, &r2, depth + 1);
          if (s2.empty()) fail("'{% if %}' without '{% endif %}'");
          n.branches.emplace_back(nullptr, std::move(eb));
          break;
        }
      }
      if (py_strip(rest).empty()) fail("'{% if %}' without a condition");
      nodes.push_back(std::move(n));
    } else if (w == "for") {
      std::string after;
      const std::string var = first_word(rest, &after);
      std::string iter;
      if (var.empty() || first_word(after, &iter) != "in")
        fail("unsupported construct: '{%" + pc.body + "%}' (only 'for NAME in EXPR')");
      if (iter.find(" if ") != std::string::npos || iter.find(" recursive") != std::string::npos)
        fail("unsupported construct: filtered or recursive for loop");
      Node n{Node::For, var, parse_expr(iter), {}};
      std::string s, srest;
      auto body = parse_nodes(pieces, i, {"endfor", "else"}, &s, &srest, depth + 1);
      if (s.empty()) fail("'{% for %}' without '{% endfor %}'");
      if (s == "else") fail("unsupported construct: '{% for %}...{% else %}'");
      n.branches.emplace_back(nullptr, std::move(body));
      nodes.push_back(std::move(n));
    } else if (w == "set") {
      std::string after;
      const std::string var = first_word(rest, &after);
      const std::string a = py_strip(after);
      if (var.empty() || a.empty() || a[0] != '=' || (a.size() > 1 && a[1] == '='))
        fail("unsupported construct: '{%" + pc.body + "%}' (only 'set NAME = EXPR')");
      nodes.push_back({Node::Set, var, parse_expr(a.substr(1)), {}});
    } else {
      fail("unsupported construct: '{% " + (w.empty() ? py_strip(pc.body) : w) + " %}'");
    }
  }
  *stop = "";
  return nodes;
}

}  // namespace

namespace {
std::string repr_at(const json& v, int depth);
}

std::string py_repr(const json& v) { return repr_at(v, 0); }

namespace {
std::string repr_at(const json& v, int depth) {
  if (depth > 200) fail("value nested more than 200 deep");
  if (v.is_string()) return repr_string(v.get<std::string>());
  if (v.is_array()) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + repr_at(v[i], depth + 1);
    return s + "]";
  }
  if (v.is_object()) {
    std::string s = "{";
    bool first = true;
    for (auto it = v.begin(); it != v.end(); ++it, first = false)
      s += (first ? "" : ", ") + repr_string(it.key()) + ": " + repr_at(it.value(), depth + 1);
    return s + "}";
  }
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  if (v.is_null()) return "None";
  return v.dump();
}
}  // namespace

std::string py_str(const json& v) { return v.is_string() ? v.get<std::string>() : py_repr(v); }

struct Template::Impl {
  std::vector<Node> nodes;
};

Template::Template(const std::string& source) : source_(source), impl_(std::make_unique<Impl>()) {
  const auto pieces = split_pieces(source);
  size_t i = 0;
  std::string stop, rest;
  impl_->nodes = parse_nodes(pieces, i, {"endif", "endfor", "elif", "else"}, &stop, &rest);
  if (!stop.empty()) fail("'{% " + stop + " %}' without its opening tag");
}
Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

std::string Template::render(const json& doc) const {
  Env env{doc, {Scope{}}};
  std::string out;
  size_t steps = 0;
  run(impl_->nodes, env, out, steps);
  return out;
}

json Template::value(const json& doc) const {
  const auto& n = impl_->nodes;
  size_t sets = 0;
  while (sets < n.size() && n[sets].kind == Node::Set) ++sets;
  if (sets + 1 != n.size() || n[sets].kind != Node::Output) return render(doc);
  Env env{doc, {Scope{}}};
  std::string ignored;
  for (size_t i = 0; i < sets; ++i) env.scopes.back()[n[i].text] = eval(*n[i].expr, env);
  return eval(*n[sets].expr, env);
}

}  // namespace eeb
