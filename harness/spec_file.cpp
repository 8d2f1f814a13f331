#include "harness/spec_file.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

#include "core/error.h"
#include "harness/sweep.h"
#include "core/toml_json.h"
#include "strategies/strategy.h"
#include "tasks/task.h"

namespace eeb {
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Errors point at the line (and column) of the node they are about.
struct Reader {
  std::string name, base_dir;

  [[noreturn]] void fail(const toml::source_region& where, const std::string& msg) const {
    throw Error(name + ":" + std::to_string(where.begin.line) + ":" + std::to_string(where.begin.column) + ": " +
                msg);
  }

  void only_keys(const toml::table& t, std::initializer_list<const char*> allowed, const char* section) const {
    for (auto&& [k, v] : t) {
      bool ok = false;
      for (const char* a : allowed) ok = ok || k.str() == a;
      if (!ok) {
        std::string list;
        for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        fail(k.source(), "unknown key '" + std::string(k.str()) + "' in " + section + " (known: " + list + ")");
      }
    }
  }

  std::string str(const toml::node& n, const char* key) const {
    if (!n.is_string()) fail(n.source(), std::string(key) + " must be a string");
    return std::string(*n.value<std::string_view>());
  }
  long integer(const toml::node& n, const char* key, long lo, long hi) const {
    if (!n.is_integer()) fail(n.source(), std::string(key) + " must be an integer");
    const int64_t v = *n.value<int64_t>();
    if (v < lo || v > hi)
      fail(n.source(), std::string(key) + " = " + std::to_string(v) + " is out of range [" + std::to_string(lo) +
                           ", " + std::to_string(hi) + "]");
    return static_cast<long>(v);
  }
  double number(const toml::node& n, const char* key) const {
    if (!n.is_number()) fail(n.source(), std::string(key) + " must be a number");
    const double v = *n.value<double>();
    if (!(v >= 0)) fail(n.source(), std::string(key) + " must be ≥ 0");
    return v;
  }
  bool boolean(const toml::node& n, const char* key) const {
    if (!n.is_boolean()) fail(n.source(), std::string(key) + " must be true or false");
    return *n.value<bool>();
  }
  std::vector<std::string> strings(const toml::node& n, const char* key) const {
    const auto* a = n.as_array();
    if (!a) fail(n.source(), std::string(key) + " must be an array of strings");
    std::vector<std::string> out;
    for (const auto& e : *a) out.push_back(str(e, key));
    return out;
  }
  std::string path(const toml::node& n, const char* key) const {
    std::string p = str(n, key);
    if (p.empty()) fail(n.source(), std::string(key) + " is empty");
    if (fs::path(p).is_absolute() || base_dir.empty()) return p;
    return (fs::path(base_dir) / p).lexically_normal().string();
  }

  // A TOML value as JSON (strategy parameters); dates and times are not parameters.
  json to_json(const toml::node& n) const {
    return toml_to_json(n, [this](const toml::node& bad) { fail(bad.source(), "dates and times are not valid here"); });
  }

  const toml::array& array_of_tables(const toml::table& root, const char* key) const {
    const toml::node* n = root.get(key);
    if (!n) throw Error(name + ": no [[" + key + "]] section (at least one is needed)");
    const auto* a = n->as_array();
    if (!a || !a->is_array_of_tables()) fail(n->source(), std::string(key) + " must be written as [[" + key + "]]");
    if (a->empty()) fail(n->source(), std::string("[[") + key + "]] is empty");
    return *a;
  }
};

struct StrategyEntry {
  std::string name;
  json params = json::object();
  std::vector<std::pair<std::string, std::vector<json>>> sweep;
  std::vector<std::string> tasks;  // empty: all
};

}  // namespace

RunSpec parse_spec(const std::string& text, const std::string& name, const std::string& base_dir,
                   const RunArgs& cli, const std::set<std::string>& given) {
  Reader rd{name, base_dir};
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    rd.fail(e.source(), std::string(e.description()));
  }
  rd.only_keys(root, {"run", "model", "task", "strategy"}, "the spec");

  RunSpec spec;
  spec.source = name;
  RunArgs& a = spec.args;
  a = cli;
  a.db = "results/eebench.db";
  std::string data = "data";
  int max_new_tokens = cli.max_new_tokens;
  if (const toml::node* rn = root.get("run")) {
    const auto* r = rn->as_table();
    if (!r) rd.fail(rn->source(), "run must be a table ([run])");
    rd.only_keys(*r,
                 {"backend", "dtype", "db", "data", "reps", "warmup", "seed", "threads", "max_new_tokens", "isolate",
                  "timeout_s", "memory_limit_mb", "log_samples", "prefix_cache", "prefix_cache_mb", "batch_docs"},
                 "[run]");
    for (auto&& [k, v] : *r) {
      const std::string key(k.str());
      if (key == "backend") a.backend = rd.str(v, "backend");
      else if (key == "dtype") a.dtype = rd.str(v, "dtype");
      else if (key == "db") a.db = rd.path(v, "db");
      else if (key == "data") data = rd.path(v, "data");
      else if (key == "reps") a.reps = int(rd.integer(v, "reps", 0, 1000));
      else if (key == "warmup") a.warmup = int(rd.integer(v, "warmup", 0, 1000));
      else if (key == "seed") a.seed = static_cast<unsigned long>(rd.integer(v, "seed", 0, INT64_MAX));
      else if (key == "threads") a.threads = int(rd.integer(v, "threads", 0, 4096));
      else if (key == "max_new_tokens") max_new_tokens = int(rd.integer(v, "max_new_tokens", 1, 100000));
      else if (key == "isolate") a.isolate = rd.boolean(v, "isolate");
      else if (key == "log_samples") a.log_samples = rd.boolean(v, "log_samples");
      else if (key == "prefix_cache") a.prefix_cache = rd.boolean(v, "prefix_cache");
      else if (key == "prefix_cache_mb") a.prefix_cache_mb = rd.number(v, "prefix_cache_mb");
      else if (key == "batch_docs") a.batch_docs = int(rd.integer(v, "batch_docs", 1, 4096));
      else if (key == "timeout_s") a.timeout_s = rd.number(v, "timeout_s");
      else if (key == "memory_limit_mb") a.memory_limit_mb = rd.integer(v, "memory_limit_mb", 0, 1L << 40);
    }
  }
  // The command line wins over the file for the settings it names.
  auto take = [&](const char* key, auto& field, const auto& value) {
    if (given.count(key)) field = value;
  };
  take("backend", a.backend, cli.backend), take("dtype", a.dtype, cli.dtype), take("db", a.db, cli.db);
  take("data", data, cli.data), take("reps", a.reps, cli.reps), take("warmup", a.warmup, cli.warmup);
  take("seed", a.seed, cli.seed), take("threads", a.threads, cli.threads);
  take("max_new_tokens", max_new_tokens, cli.max_new_tokens), take("isolate", a.isolate, cli.isolate);
  take("timeout_s", a.timeout_s, cli.timeout_s), take("memory_limit_mb", a.memory_limit_mb, cli.memory_limit_mb);
  take("prefix_cache", a.prefix_cache, cli.prefix_cache);
  take("prefix_cache_mb", a.prefix_cache_mb, cli.prefix_cache_mb);
  take("batch_docs", a.batch_docs, cli.batch_docs);

  struct ModelEntry {
    std::string model, tokenizer;
  };
  std::vector<ModelEntry> models;
  for (const auto& n : rd.array_of_tables(root, "model")) {
    const auto& t = *n.as_table();
    rd.only_keys(t, {"path", "hub", "tokenizer"}, "[[model]]");
    ModelEntry m;
    const toml::node* p = t.get("path");
    const toml::node* h = t.get("hub");
    if (!p == !h) rd.fail(t.source(), "[[model]] needs exactly one of path = \"...\" or hub = \"org/name\"");
    m.model = p ? rd.path(*p, "path") : rd.str(*h, "hub");
    if (const toml::node* tk = t.get("tokenizer")) m.tokenizer = rd.path(*tk, "tokenizer");
    models.push_back(m);
  }

  std::vector<TrialSpec> tasks;
  for (const auto& n : rd.array_of_tables(root, "task")) {
    const auto& t = *n.as_table();
    rd.only_keys(t, {"name", "data", "split", "shots", "limit", "subjects", "max_new_tokens"}, "[[task]]");
    TrialSpec ts;
    ts.data = data, ts.max_new_tokens = max_new_tokens;
    if (!t.get("name")) rd.fail(t.source(), "[[task]] needs name = \"...\" (eebench list tasks)");
    for (auto&& [k, v] : t) {
      const std::string key(k.str());
      if (key == "name") ts.task = rd.str(v, "name");
      else if (key == "data") ts.data = rd.path(v, "data");
      else if (key == "split") ts.split = rd.str(v, "split");
      else if (key == "shots") ts.shots = int(rd.integer(v, "shots", 0, 100));
      else if (key == "limit") ts.limit = int(rd.integer(v, "limit", 0, 100000000));
      else if (key == "subjects") ts.subjects = rd.strings(v, "subjects");
      else if (key == "max_new_tokens") ts.max_new_tokens = int(rd.integer(v, "max_new_tokens", 1, 100000));
    }
    if (given.count("limit")) ts.limit = cli.limit;
    try {
      make_task(ts.task);
    } catch (const Error& e) {
      rd.fail(t.get("name")->source(), e.what());
    }
    tasks.push_back(ts);
  }

  std::vector<StrategyEntry> strategies;
  std::vector<toml::source_region> strategy_at;
  for (const auto& n : rd.array_of_tables(root, "strategy")) {
    const auto& t = *n.as_table();
    rd.only_keys(t, {"name", "params", "sweep", "tasks"}, "[[strategy]]");
    StrategyEntry s;
    if (!t.get("name")) rd.fail(t.source(), "[[strategy]] needs name = \"...\" (eebench list strategies)");
    s.name = rd.str(*t.get("name"), "name");
    if (const toml::node* p = t.get("params")) {
      if (!p->is_table()) rd.fail(p->source(), "params must be a table, e.g. params = { n = 4 }");
      s.params = rd.to_json(*p);
    }
    if (const toml::node* sw = t.get("sweep")) {
      const auto* st = sw->as_table();
      if (!st) rd.fail(sw->source(), "sweep must be a table, e.g. sweep = { n = [1, 2, 4] } or { n = \"1:8\" }");
      for (auto&& [k, v] : *st) {
        const std::string key(k.str());
        std::vector<json> values;
        if (v.is_string()) {
          try {
            for (auto& p : expand_sweep(json::object(), {key + "=" + rd.str(v, key.c_str())})) values.push_back(p[key]);
          } catch (const Error& e) {
            rd.fail(v.source(), e.what());
          }
        } else if (const auto* arr = v.as_array()) {
          for (const auto& e : *arr) values.push_back(rd.to_json(e));
        } else {
          rd.fail(v.source(), "sweep." + key + " must be an array of values or a range string \"a:b\"");
        }
        if (values.empty()) rd.fail(v.source(), "sweep." + key + " has no values");
        if (s.params.contains(key)) rd.fail(k.source(), "'" + key + "' is both in params and in sweep");
        s.sweep.emplace_back(key, std::move(values));
      }
    }
    if (const toml::node* tk = t.get("tasks")) {
      s.tasks = rd.strings(*tk, "tasks");
      for (const auto& name_ : s.tasks) {
        bool known = false;
        for (const auto& ts : tasks) known = known || ts.task == name_;
        if (!known) rd.fail(tk->source(), "tasks: '" + name_ + "' is not one of the spec's [[task]] entries");
      }
    }
    strategies.push_back(std::move(s));
    strategy_at.push_back(t.source());
  }

  for (const auto& m : models)
    for (const auto& task : tasks)
      for (size_t si = 0; si < strategies.size(); ++si) {
        const StrategyEntry& s = strategies[si];
        if (!s.tasks.empty() && std::find(s.tasks.begin(), s.tasks.end(), task.task) == s.tasks.end()) continue;
        std::vector<json> params{s.params};
        for (const auto& [key, values] : s.sweep) {
          std::vector<json> next;
          for (const auto& p : params)
            for (const auto& v : values) {
              json q = p;
              q[key] = v;
              next.push_back(std::move(q));
            }
          params = std::move(next);
          if (params.size() > 100000) rd.fail(strategy_at[si], "the sweep expands to more than 100000 trials");
        }
        for (auto& p : params) {
          try {
            make_strategy(s.name, resolve_depth_params(p, 32));  // unknown names and parameters, with the line
          } catch (const Error& e) {
            rd.fail(strategy_at[si], e.what());
          }
          TrialSpec t = task;
          t.model = m.model, t.tokenizer = m.tokenizer;
          t.strategy = s.name, t.params = std::move(p);
          spec.trials.push_back(std::move(t));
        }
      }
  if (spec.trials.empty()) throw Error(name + ": the spec expands to no trials");
  if (spec.trials.size() > 100000) throw Error(name + ": the spec expands to more than 100000 trials");
  std::ostringstream js;
  js << toml::json_formatter{root};
  spec.file = json::parse(js.str(), nullptr, false);
  return spec;
}

RunSpec load_spec_file(const std::string& path, const RunArgs& cli, const std::set<std::string>& given) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path, "cannot open the run spec");
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw Error(path, "cannot read the run spec");
  return parse_spec(ss.str(), path, fs::path(path).parent_path().string(), cli, given);
}

}  // namespace eeb
