// Shard files and merging them (results/merge.h). Rows are copied column by column, by name, so a
// column a later schema adds (h2's per-trial decision, say) merges without a change here.
#include "results/merge.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "results/codec.h"
#include "results/schema.h"
#include "results/sqlite_util.h"

namespace eeb {
using nlohmann::json;
namespace fs = std::filesystem;

TrialRange shard_range(int trials, int index, int count) {
  const auto at = [&](int i) { return static_cast<int>(int64_t(trials) * i / count); };
  return {at(index), at(index + 1)};
}

std::string shard_path(const std::string& db, int index, int count) {
  return db + ".shard-" + std::to_string(index) + "-of-" + std::to_string(count);
}

std::vector<ShardFile> find_shard_files(const std::string& db) {
  const fs::path p(db);
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  const std::string prefix = p.filename().string() + ".shard-";
  static const std::regex tail(R"(([0-9]{1,6})-of-([0-9]{1,6}))");
  std::vector<ShardFile> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    std::smatch m;
    const std::string rest = name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : "";
    if (rest.empty() || !std::regex_match(rest, m, tail) || !e.is_regular_file()) continue;
    const int i = std::stoi(m[1]), n = std::stoi(m[2]);
    if (n < 1 || i >= n) continue;
    out.push_back({(p.parent_path() / name).string(), i, n});
  }
  std::sort(out.begin(), out.end(), [](const ShardFile& a, const ShardFile& b) {
    return std::tie(a.count, a.index) < std::tie(b.count, b.index);
  });
  return out;
}

namespace {

using Conn = std::unique_ptr<sqlite3, sql::DbCloser>;

// A shard is read through its own connection, never created or migrated (no write to it).
Conn open_existing(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[16] = {};
  f.read(magic, sizeof magic);
  if (f.gcount() != sizeof magic || std::string(magic, sizeof magic) != std::string("SQLite format 3\0", 16))
    throw Error(path, "corrupt shard (not a SQLite database); nothing merged from it");
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
  Conn c(raw);
  if (rc != SQLITE_OK) sql::fail(raw, path, "open");
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 10000);
  return c;
}

// A value of any SQLite type, copied out of one database and bound into another.
struct Value {
  int type = SQLITE_NULL;
  int64_t i = 0;
  double f = 0;
  std::string s;  // text or blob bytes
  static Value of(sqlite3_stmt* st, int c) {
    Value v;
    v.type = sqlite3_column_type(st, c);
    if (v.type == SQLITE_INTEGER) v.i = sqlite3_column_int64(st, c);
    else if (v.type == SQLITE_FLOAT) v.f = sqlite3_column_double(st, c);
    else if (v.type == SQLITE_TEXT || v.type == SQLITE_BLOB) {
      const void* p = v.type == SQLITE_TEXT ? static_cast<const void*>(sqlite3_column_text(st, c))
                                            : sqlite3_column_blob(st, c);
      v.s.assign(static_cast<const char*>(p ? p : ""), size_t(sqlite3_column_bytes(st, c)));
    }
    return v;
  }
  static Value integer(int64_t x) {
    Value v;
    v.type = SQLITE_INTEGER, v.i = x;
    return v;
  }
  static Value text(const std::string& x) {
    Value v;
    v.type = SQLITE_TEXT, v.s = x;
    return v;
  }
  int bind(sqlite3_stmt* st, int k) const {
    switch (type) {
      case SQLITE_INTEGER: return sqlite3_bind_int64(st, k, i);
      case SQLITE_FLOAT: return sqlite3_bind_double(st, k, f);
      case SQLITE_TEXT: return sqlite3_bind_text64(st, k, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      case SQLITE_BLOB: return sqlite3_bind_blob64(st, k, s.data(), s.size(), SQLITE_TRANSIENT);
      default: return sqlite3_bind_null(st, k);
    }
  }
};
using Row = std::vector<std::pair<std::string, Value>>;  // column name → value, in table order

Value* find(Row& r, const std::string& col) {
  for (auto& [n, v] : r)
    if (n == col) return &v;
  return nullptr;
}

std::string quoted(const std::string& name) { return "\"" + name + "\""; }

// Prepared statements of one connection, by SQL text; bound and stepped through one call.
class Db {
 public:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~Db() {
    for (auto& [k, st] : cache_) sqlite3_finalize(st);
  }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

  // Runs sql with `args` bound as ?1, ?2, ...; calls on_row for every row. Returns the changes.
  int64_t query(const std::string& sql, const std::vector<Value>& args,
                const std::function<void(sqlite3_stmt*)>& on_row = {}) {
    sqlite3_stmt*& st = cache_[sql];
    if (!st && sqlite3_prepare_v2(db_, sql.c_str(), int(sql.size()), &st, nullptr) != SQLITE_OK)
      sql::fail(db_, path_, "prepare");
    struct Reset {
      sqlite3_stmt* s;
      ~Reset() { sqlite3_reset(s), sqlite3_clear_bindings(s); }
    } reset{st};
    for (size_t k = 0; k < args.size(); ++k)
      if (args[k].bind(st, int(k + 1)) != SQLITE_OK) sql::fail(db_, path_, "bind");
    for (;;) {
      const int rc = sqlite3_step(st);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) sql::fail(db_, path_, "step");
      if (on_row) on_row(st);
    }
    return sqlite3_changes(db_);
  }
  std::vector<Row> rows(const std::string& sql, const std::vector<Value>& args) {
    std::vector<Row> out;
    query(sql, args, [&](sqlite3_stmt* st) {
      Row r;
      for (int c = 0; c < sqlite3_column_count(st); ++c) r.emplace_back(sqlite3_column_name(st, c), Value::of(st, c));
      out.push_back(std::move(r));
    });
    return out;
  }
  std::vector<std::string> columns(const std::string& table) {
    std::vector<std::string> out;
    query("SELECT name FROM pragma_table_info(?1) ORDER BY cid", {Value::text(table)},
          [&](sqlite3_stmt* st) { out.push_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))); });
    return out;
  }
  std::vector<std::string> primary_key(const std::string& table) {
    std::vector<std::pair<int64_t, std::string>> pk;
    query("SELECT pk, name FROM pragma_table_info(?1) WHERE pk > 0", {Value::text(table)}, [&](sqlite3_stmt* st) {
      pk.emplace_back(sqlite3_column_int64(st, 0), reinterpret_cast<const char*>(sqlite3_column_text(st, 1)));
    });
    std::sort(pk.begin(), pk.end());
    std::vector<std::string> out;
    for (auto& [k, n] : pk) out.push_back(n);
    return out;
  }
  // The columns of the table's UNIQUE constraint that names a row within a run (run_id, not id).
  std::vector<std::string> identity(const std::string& table) {
    std::vector<std::string> names;
    query("SELECT name FROM pragma_index_list(?1) WHERE \"unique\" = 1", {Value::text(table)},
          [&](sqlite3_stmt* st) { names.push_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))); });
    for (const auto& idx : names) {
      std::vector<std::string> cols;
      query("SELECT name FROM pragma_index_info(?1) ORDER BY seqno", {Value::text(idx)},
            [&](sqlite3_stmt* st) { cols.push_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))); });
      const bool has_run = std::count(cols.begin(), cols.end(), "run_id") > 0;
      if (has_run && std::count(cols.begin(), cols.end(), "id") == 0) return cols;
    }
    throw Error(path_, "table " + table + " has no UNIQUE(run_id, ...) identity");
  }
  std::vector<std::string> tables() {
    std::vector<std::string> out;
    query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
          " ORDER BY name",
          {}, [&](sqlite3_stmt* st) { out.push_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))); });
    return out;
  }

 private:
  sqlite3* db_;
  std::string path_;
  std::map<std::string, sqlite3_stmt*> cache_;
};

int64_t count_of(Db& db, const std::string& sql, const std::vector<Value>& args) {
  int64_t n = 0;
  db.query(sql, args, [&](sqlite3_stmt* st) { n = sqlite3_column_int64(st, 0); });
  return n;
}

std::string text_of(const Row& r, const std::string& col) {
  for (const auto& [n, v] : r)
    if (n == col) return v.s;
  return "";
}

// The shard's one run, its runs.spec → shard object and its planned trials' states.
ShardInfo read_open_shard(Db& db, const ShardFile& f) {
  ShardInfo info;
  info.file = f;
  std::string check;
  db.query("PRAGMA integrity_check", {}, [&](sqlite3_stmt* st) {
    if (check.empty()) check = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  });
  if (check != "ok") throw Error(f.path, "corrupt shard (integrity_check: " + check + "); nothing merged from it");
  if (count_of(db, "PRAGMA application_id", {}) != sql::kApplicationId)
    throw Error(f.path, "not an eebench results database; nothing merged from it");
  auto runs = db.rows("SELECT id, spec, eebench_version, hostname, status, started_at, finished_at FROM runs", {});
  if (runs.size() != 1) throw Error(f.path, "holds " + std::to_string(runs.size()) + " runs, a shard holds one");
  const json spec = sql::parse_json(text_of(runs[0], "spec"), json::object(), f.path, "runs spec");
  const json sh = spec.value("shard", json());
  if (!sh.is_object()) throw Error(f.path, "not a shard file (its run has no spec.shard)");
  try {
    info.run = sh.at("run").get<int64_t>();
    info.spec_hash = sh.at("spec_hash").get<std::string>();
    info.trials = sh.at("trials").get<std::vector<int>>();
    info.slurm_job = sh.value("slurm_job", "");
    if (sh.at("index").get<int>() != f.index || sh.at("count").get<int>() != f.count)
      throw Error(f.path, "is shard " + sh.at("index").dump() + "/" + sh.at("count").dump() + " (renamed?)");
  } catch (const json::exception& e) {
    throw Error(f.path, std::string("malformed spec.shard: ") + e.what());
  }
  if (runs[0][0].second.i != info.run)
    throw Error(f.path, "its run id " + std::to_string(runs[0][0].second.i) + " is not the shard's run " +
                            std::to_string(info.run));
  info.eebench_version = text_of(runs[0], "eebench_version"), info.hostname = text_of(runs[0], "hostname");
  info.status = text_of(runs[0], "status");
  info.started_at = text_of(runs[0], "started_at"), info.finished_at = text_of(runs[0], "finished_at");
  for (const auto& r : db.rows("SELECT idx, status FROM planned_trials WHERE run_id = ?1 ORDER BY idx",
                               {Value::integer(info.run)})) {
    const std::string st = r[1].second.s;
    if (r[0].second.i < 0 || r[0].second.i >= int64_t(info.trials.size()))
      throw Error(f.path, "planned trial " + std::to_string(r[0].second.i) + " is not in spec.shard.trials");
    (st == "finished" ? info.finished : st == "failed" ? info.failed : st == "running" ? info.running : info.pending)++;
  }
  return info;
}

// Wraps SQLite failures on a shard (a damaged page found mid-query) into the one-line refusal.
template <class F>
auto on_shard(const std::string& path, F f) {
  try {
    return f();
  } catch (const sql::SqlError& e) {
    const std::string what = e.what();
    throw Error(path, "corrupt shard (" + what.substr(what.find("SQLite")) + "); nothing merged from it");
  }
}

}  // namespace

ShardInfo read_shard(const ShardFile& f) {
  return on_shard(f.path, [&] {
    Conn c = open_existing(f.path);
    Db db(c.get(), f.path);
    return read_open_shard(db, f);
  });
}

void begin_run_with_id(ResultStore& store, const RunInfo& info, int64_t id) {
  const int64_t got = store.begin_run(info);
  if (got == id) return;
  Db db(store.handle(), store.path());
  db.query("UPDATE runs SET id = ?1 WHERE id = ?2", {Value::integer(id), Value::integer(got)});
}

void set_run_environment(ResultStore& store, int64_t run, const RunInfo& n) {
  Db db(store.handle(), store.path());
  db.query("UPDATE runs SET hostname=?1, cpu_model=?2, gpu_name=?3, gpu_uuid=?4, gpu_driver=?5, cuda_runtime=?6,"
           " cublas_version=?7, library_versions=?8, eebench_version=?9, git_sha=?10, git_dirty=?11,"
           " compiler=?12, build_type=?13, command_line=?14 WHERE id=?15",
           {Value::text(n.hostname), Value::text(n.cpu_model), Value::text(n.gpu_name), Value::text(n.gpu_uuid),
            Value::text(n.gpu_driver), Value::text(n.cuda_runtime), Value::text(n.cublas_version),
            Value::text(sql::dump_object(n.library_versions)), Value::text(n.eebench_version), Value::text(n.git_sha),
            Value::integer(n.git_dirty), Value::text(n.compiler), Value::text(n.build_type),
            Value::text(n.command_line), Value::integer(run)});
}

int64_t find_sharded_run(ResultStore& store, const std::string& spec_hash, int count, const RunInfo* create) {
  Db db(store.handle(), store.path());
  const std::string find =
      "SELECT id FROM runs WHERE status = 'running' AND json_extract(spec, '$.sharding.spec_hash') = ?1"
      " AND json_extract(spec, '$.sharding.shards') = ?2 ORDER BY id DESC LIMIT 1";
  const std::vector<Value> args{Value::text(spec_hash), Value::integer(count)};
  if (!create) return count_of(db, find, args);
  sql::exec(store.handle(), store.path(), "BEGIN IMMEDIATE");
  try {
    int64_t id = count_of(db, find, args);
    if (id == 0) id = store.begin_run(*create);
    sql::exec(store.handle(), store.path(), "COMMIT");
    return id;
  } catch (...) {
    sqlite3_exec(store.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

// ---- merging ----------------------------------------------------------------------------------

namespace {


// Tables folded by their own rules; every other table with a trial_id column is per-trial data.
const std::set<std::string> kRunTables = {"runs", "models", "tasks", "strategies", "trials", "planned_trials",
                                          "schema_version", "targets", "run_nodes"};

// "a","b","c": column names for SQL.
std::string quoted_list(const std::vector<std::string>& cols) {
  std::string s;
  for (size_t k = 0; k < cols.size(); ++k) s += (k ? "," : "") + quoted(cols[k]);
  return s;
}

class Merger {
 public:
  Merger(Db& main, int64_t run) : main_(main), run_(run) {}

  // Folds one shard (its connection `sh`) into the main database; the caller holds the transaction.
  MergeResult::Shard fold(Db& sh, const ShardInfo& info) {
    MergeResult::Shard out;
    out.info = info;
    shard_ = &sh;
    for (const auto& t : sh.tables()) check_columns(t);
    std::map<std::string, std::map<int64_t, int64_t>> ids;  // table → shard id → main id
    for (const char* table : {"models", "tasks", "strategies", "trials"}) {
      for (Row& r : sh.rows(std::string("SELECT * FROM ") + table + " WHERE run_id = ?1", {Value::integer(run_)})) {
        const int64_t shard_id = find(r, "id")->i;
        for (const char* fk : {"model_id", "task_id", "strategy_id"})
          if (Value* v = find(r, fk)) v->i = mapped(ids, std::string(fk) == "model_id" ? "models"
                                                          : std::string(fk) == "task_id" ? "tasks" : "strategies",
                                                    v->i);
        bool added = false;
        ids[table][shard_id] = match(table, r, added);
        if (added && std::string(table) == "trials") ++out.trials_added;
      }
    }
    trial_ids_ = ids["trials"];
    for (const auto& t : sh.tables()) {
      if (kRunTables.count(t)) continue;
      const auto cols = sh.columns(t);
      if (std::count(cols.begin(), cols.end(), "trial_id") == 0) continue;
      const bool measurements = t == "samples";  // the first stored sample is kept, as add_sample does
      for (Row& r : sh.rows("SELECT x.* FROM " + quoted(t) + " x JOIN trials t ON t.id = x.trial_id"
                            " WHERE t.run_id = ?1", {Value::integer(run_)})) {
        find(r, "trial_id")->i = trial_ids_.at(find(r, "trial_id")->i);
        const int64_t n = upsert(t, r, !measurements);
        (measurements ? out.samples_added : out.rows_updated) += n;
      }
    }
    out.rows_updated += fold_planned(sh, info);
    out.rows_updated += fold_node(sh, info);
    return out;
  }

  // Updates of shared rows (a strategy row used by trials of several shards): the last shard's
  // values win, as the last trial's do in a single run; applied once, only where they differ.
  int64_t apply_deferred() {
    int64_t n = 0;
    for (auto& [key, r] : deferred_) n += update(key.first, "id", Value::integer(key.second), r);
    deferred_.clear();
    return n;
  }

 private:
  void check_columns(const std::string& table) {
    if (table == "run_nodes" || table == "schema_version") return;
    const auto mine = main_.columns(table);
    if (mine.empty()) throw Error(shard_->path(), "has table " + table + ", which " + main_.path() +
                                                      " lacks (written by a newer eebench?); nothing merged");
    for (const auto& c : shard_->columns(table))
      if (std::count(mine.begin(), mine.end(), c) == 0)
        throw Error(shard_->path(), "has column " + table + "." + c + ", which " + main_.path() +
                                        " lacks (written by a newer eebench?); nothing merged");
  }

  int64_t mapped(std::map<std::string, std::map<int64_t, int64_t>>& ids, const std::string& table, int64_t id) {
    auto it = ids[table].find(id);
    if (it == ids[table].end())
      throw Error(shard_->path(), "a trial points at " + table + " row " + std::to_string(id) + " of another run");
    return it->second;
  }

  // The main row with r's identity (inserting r when there is none); its other columns are deferred.
  int64_t match(const std::string& table, Row r, bool& added) {
    auto& key = identity_[table];
    if (key.empty()) key = main_.identity(table);
    r.erase(std::remove_if(r.begin(), r.end(), [](const auto& c) { return c.first == "id"; }), r.end());
    std::vector<Value> args;
    std::string where;
    for (const auto& k : key) {
      const Value* v = find(r, k);
      if (!v)
        throw Error(shard_->path(), "lacks column " + table + "." + k + " (written by an older eebench?); nothing merged");
      args.push_back(*v);
      where += (where.empty() ? "" : " AND ") + quoted(k) + " IS ?" + std::to_string(args.size());
    }
    int64_t id = count_of(main_, "SELECT id FROM " + table + " WHERE " + where, args);
    if (id != 0) {
      Row rest;
      for (auto& c : r)
        if (std::count(key.begin(), key.end(), c.first) == 0) rest.push_back(c);
      deferred_[{table, id}] = rest;
      return id;
    }
    insert(table, r, "");
    added = true;
    return sqlite3_last_insert_rowid(main_.handle());
  }

  int64_t insert(const std::string& table, const Row& r, const std::string& conflict) {
    std::vector<std::string> cols;
    std::vector<Value> args;
    std::string marks;
    for (const auto& [n, v] : r) {
      cols.push_back(n), args.push_back(v);
      marks += (marks.empty() ? "?" : ",?") + std::to_string(args.size());
    }
    return main_.query("INSERT INTO " + quoted(table) + "(" + quoted_list(cols) + ") VALUES(" + marks +
                           ")" + conflict,
                       args);
  }

  // INSERT, or on a primary-key conflict nothing (samples) or an update of what differs.
  int64_t upsert(const std::string& table, const Row& r, bool update_existing) {
    auto& pk = pk_[table];
    if (pk.empty()) pk = main_.primary_key(table);
    std::vector<std::string> rest;
    for (const auto& c : r)
      if (std::count(pk.begin(), pk.end(), c.first) == 0) rest.push_back(c.first);
    std::string conflict = " ON CONFLICT(" + quoted_list(pk) + ") DO NOTHING";
    if (update_existing && !rest.empty()) {
      std::string set, differs;
      for (const auto& c : rest) {
        set += (set.empty() ? "" : ", ") + quoted(c) + " = excluded." + quoted(c);
        differs += (differs.empty() ? "" : " OR ") + quoted(c) + " IS NOT excluded." + quoted(c);
      }
      conflict = " ON CONFLICT(" + quoted_list(pk) + ") DO UPDATE SET " + set + " WHERE " + differs;
    }
    return insert(table, r, conflict);
  }

  // UPDATE table SET (r's columns) WHERE key = value, only when some column differs.
  int64_t update(const std::string& table, const std::string& key, const Value& value, const Row& r,
                 const std::string& extra_where = "", const std::vector<Value>& extra_args = {}) {
    if (r.empty()) return 0;
    std::vector<Value> args = extra_args;
    std::string set, differs;
    for (const auto& [n, v] : r) {
      args.push_back(v);
      const std::string k = "?" + std::to_string(args.size());
      set += (set.empty() ? "" : ", ") + quoted(n) + " = " + k;
      differs += (differs.empty() ? "" : " OR ") + quoted(n) + " IS NOT " + k;
    }
    args.push_back(value);
    return main_.query("UPDATE " + quoted(table) + " SET " + set + " WHERE " + quoted(key) + " = ?" +
                           std::to_string(args.size()) + extra_where + " AND (" + differs + ")",
                       args);
  }

  // The shard's planned trial j is the run's planned trial info.trials[j]: same spec, and how it
  // ended (status, trial, exit status, error, stderr) copied.
  int64_t fold_planned(Db& sh, const ShardInfo& info) {
    int64_t n = 0;
    for (Row& r : sh.rows("SELECT * FROM planned_trials WHERE run_id = ?1 ORDER BY idx", {Value::integer(run_)})) {
      const int64_t j = find(r, "idx")->i;
      const int global = info.trials.at(size_t(j));
      std::string spec;
      bool found = false;
      main_.query("SELECT spec FROM planned_trials WHERE run_id = ?1 AND idx = ?2",
                  {Value::integer(run_), Value::integer(global)}, [&](sqlite3_stmt* st) {
                    found = true;
                    spec = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
                  });
      if (!found || spec != find(r, "spec")->s)
        throw Error(sh.path(), "planned trial " + std::to_string(j) + " is not planned trial " +
                                   std::to_string(global) + " of run " + std::to_string(run_) + " in " +
                                   main_.path() + "; nothing merged");
      Row set;
      for (auto& c : r) {
        if (c.first == "run_id" || c.first == "idx" || c.first == "spec") continue;
        if (c.first == "trial_id" && c.second.type == SQLITE_INTEGER) c.second.i = trial_ids_.at(c.second.i);
        set.push_back(c);
      }
      n += update("planned_trials", "idx", Value::integer(global), set, " AND run_id = ?1", {Value::integer(run_)});
    }
    return n;
  }

  // One run_nodes row per shard: the environment its run row recorded on the node that ran it.
  int64_t fold_node(Db& sh, const ShardInfo& info) {
    Row node{{"run_id", Value::integer(run_)},
             {"shard", Value::integer(info.file.index)},
             {"shards", Value::integer(info.file.count)},
             {"slurm_job", Value::text(info.slurm_job)}};
    const auto cols = main_.columns("run_nodes");
    const auto runs = sh.rows("SELECT * FROM runs WHERE id = ?1", {Value::integer(run_)});
    for (const auto& [n, v] : runs.at(0))
      if (std::count(cols.begin(), cols.end(), n) && !find(node, n) && n != "id") node.emplace_back(n, v);
    return upsert("run_nodes", node, true);
  }

  Db& main_;
  Db* shard_ = nullptr;
  int64_t run_;
  std::map<std::string, std::vector<std::string>> identity_, pk_;
  std::map<std::pair<std::string, int64_t>, Row> deferred_;
  std::map<int64_t, int64_t> trial_ids_;
};

// The run's status from its planned trials: finished or failed once none is left, else running.
int64_t settle_run(Db& main, int64_t run, const std::string& finished_at) {
  int64_t total = 0, finished = 0, failed = 0;
  std::string last_error;
  main.query("SELECT status, error FROM planned_trials WHERE run_id = ?1 ORDER BY idx", {Value::integer(run)},
             [&](sqlite3_stmt* st) {
               const std::string s = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
               ++total;
               if (s == "finished") ++finished;
               if (s == "failed") {
                 ++failed;
                 last_error = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
               }
             });
  Value status = Value::text("running"), end, error;
  if (finished + failed == total) {
    status = Value::text(failed ? "failed" : "finished"), end = Value::text(finished_at);
    if (failed)
      error = Value::text(std::to_string(failed) + " of " + std::to_string(total) + " trials failed (last: " +
                          last_error + ")");
  }
  return main.query("UPDATE runs SET status = ?1, finished_at = ?2, error = ?3 WHERE id = ?4 AND"
                    " (status IS NOT ?1 OR finished_at IS NOT ?2 OR error IS NOT ?3)",
                    {status, end, error, Value::integer(run)});
}

}  // namespace

MergeResult merge_shards(const std::string& path, int64_t only_run,
                         const std::function<bool(const ShardInfo&)>& is_running) {
  if (!fs::exists(path)) throw Error(path, "no such results database (merge folds shard files into it)");
  ResultStore store = ResultStore::open(path);
  Db main(store.handle(), path);
  const auto files = find_shard_files(path);
  if (files.empty()) throw Error(path, "no shard files beside it (" + fs::path(path).filename().string() +
                                           ".shard-I-of-N: eebench run SPEC --db " + path + " --shard I/N)");
  // Every check before the first write: a refusal leaves the database as it was.
  struct Open {
    Conn conn;
    std::unique_ptr<Db> db;
    ShardInfo info;
  };
  std::vector<Open> shards;
  for (const auto& f : files) {
    Open o;
    o.info = on_shard(f.path, [&] {
      o.conn = open_existing(f.path);
      o.db = std::make_unique<Db>(o.conn.get(), f.path);
      return read_open_shard(*o.db, f);
    });
    if (only_run != 0 && o.info.run != only_run) continue;
    const ShardInfo& i = o.info;
    auto run = main.rows("SELECT spec, eebench_version FROM runs WHERE id = ?1", {Value::integer(i.run)});
    if (run.empty())
      throw Error(f.path, "a shard of run " + std::to_string(i.run) + ", which " + path +
                              " does not have (a shard file from another database?); nothing merged");
    const json spec = sql::parse_json(text_of(run[0], "spec"), json::object(), path, "runs spec");
    const std::string hash = spec.contains("sharding") ? spec["sharding"].value("spec_hash", "") : "";
    if (hash != i.spec_hash)
      throw Error(f.path, "a shard of another spec (hash " + i.spec_hash + ") than run " + std::to_string(i.run) +
                              " of " + path + " (" + (hash.empty() ? "not sharded" : hash) +
                              "): a shard file from another run; nothing merged");
    if (text_of(run[0], "eebench_version") != i.eebench_version)
      throw Error(f.path, "written by eebench " + i.eebench_version + ", run " + std::to_string(i.run) +
                              " was planned by eebench " + text_of(run[0], "eebench_version") + "; nothing merged");
    if (i.unfinished() > 0 && is_running && is_running(i))
      throw Error(f.path, "still running (" + std::to_string(i.unfinished()) + " of " +
                              std::to_string(i.trials.size()) + " trials unfinished, lock " + f.path +
                              ".lock is live): merge when it ends (eebench status " + std::to_string(i.run) +
                              "); nothing merged");
    shards.push_back(std::move(o));
  }
  if (shards.empty()) throw Error(path, "no shard files of run " + std::to_string(only_run) + " beside it");

  MergeResult res;
  sql::exec(store.handle(), path, "BEGIN IMMEDIATE");
  try {
    std::map<int64_t, std::unique_ptr<Merger>> mergers;
    std::map<int64_t, std::string> ends;
    for (auto& o : shards) {
      auto& m = mergers[o.info.run];
      if (!m) m = std::make_unique<Merger>(main, o.info.run);
      res.shards.push_back(on_shard(o.info.file.path, [&] { return m->fold(*o.db, o.info); }));
      ends[o.info.run] = std::max(ends[o.info.run], o.info.finished_at);
    }
    for (auto& [run, m] : mergers) {
      const int64_t n = m->apply_deferred() + settle_run(main, run, ends[run]);
      if (!res.shards.empty()) res.shards.back().rows_updated += n;
      res.runs.push_back(run);
    }
    sql::exec(store.handle(), path, "COMMIT");
  } catch (...) {
    sqlite3_exec(store.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return res;
}

}  // namespace eeb
