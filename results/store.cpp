// ResultStore: opening, runs, models, tasks, strategies, trials. Samples and metrics: samples.cpp.
#include "results/store.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

#include "results/codec.h"
#include "results/schema.h"
#include "results/sqlite_util.h"

namespace eeb {
using nlohmann::json;
using sql::dump_object;
using sql::parse_json;
using sql::Use;

void sql::DbCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

std::string sqlite_version() { return sqlite3_libversion(); }

std::string utc_now() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t t = system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

namespace {

const char* const kNotEebench = "not an eebench results database";

// A non-empty file that does not start with SQLite's header is not ours (SQLite would only say
// "file is not a database" at the first query).
void check_header(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec) || fs::file_size(path, ec) == 0) return;
  std::ifstream f(path, std::ios::binary);
  char magic[16] = {};
  f.read(magic, sizeof magic);
  if (f.gcount() != sizeof magic || std::string(magic, sizeof magic) != std::string("SQLite format 3\0", 16))
    throw Error(path, std::string(kNotEebench) + " (not a SQLite file)");
}

// Switching to WAL needs a brief exclusive lock; SQLite may report BUSY without waiting.
void set_wal(sqlite3* db, const std::string& path) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    try {
      sql::Stmt s(db, "PRAGMA journal_mode=WAL", path);
      std::string mode = s.step() ? s.text(0) : "";
      if (mode == "wal" || mode == "memory") return;
      throw Error(path, "SQLite: cannot switch to WAL mode (journal mode is '" + mode + "')");
    } catch (const sql::SqlError& e) {
      if (e.primary() != SQLITE_BUSY || std::chrono::steady_clock::now() > deadline) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

}  // namespace

ResultStore::ResultStore() = default;
ResultStore::ResultStore(ResultStore&&) noexcept = default;
ResultStore& ResultStore::operator=(ResultStore&& o) noexcept {
  if (this != &o) {
    cache_.clear();  // finalize this connection's statements before it closes
    path_ = std::move(o.path_);
    db_ = std::move(o.db_);
    cache_ = std::move(o.cache_);
  }
  return *this;
}
ResultStore::~ResultStore() {
  cache_.clear();  // finalize statements before the connection closes
}

ResultStore ResultStore::open(const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty()) throw Error("results database path is empty");
  if (path != ":memory:") {
    const auto parent = fs::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (ec) throw Error(path, "cannot create folder " + parent.string() + ": " + ec.message());
    check_header(path);
  }
  ResultStore s;
  s.path_ = path;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  s.db_.reset(raw);
  if (rc != SQLITE_OK) sql::fail(raw, path, "open");
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 10000);
  try {
    sql::exec(raw, path, "PRAGMA foreign_keys=ON");
    set_wal(raw, path);
    sql::exec(raw, path, "PRAGMA synchronous=NORMAL");
    sql::ensure_schema(raw, path);
  } catch (const sql::SqlError& e) {
    if (e.primary() == SQLITE_NOTADB) throw Error(path, std::string(kNotEebench) + " (file is not a database)");
    throw;
  }
  return s;
}

sql::Stmt& ResultStore::stmt(const char* text) {
  auto& p = cache_[text];
  if (!p) p = std::make_unique<sql::Stmt>(db_.get(), text, path_);
  return *p;
}

void ResultStore::check_status(const std::string& status, const char* what) {
  if (status != "running" && status != "finished" && status != "failed")
    throw Error(path_, std::string("invalid ") + what + " status '" + status +
                           "' (expected running, finished or failed)");
}

int ResultStore::schema_version() {
  Use s(stmt("PRAGMA user_version"));
  return s->step() ? int(s->i64(0)) : 0;
}

// ---- runs -------------------------------------------------------------------------------------

int64_t ResultStore::begin_run(const RunInfo& r) {
  Use s(stmt(
      "INSERT INTO runs(started_at, status, eebench_version, git_sha, git_dirty, compiler, build_type,"
      " cpu_model, gpu_name, gpu_uuid, gpu_driver, cuda_runtime, cublas_version, library_versions, hostname,"
      " seed, dtype, threads, backend, command_line, spec)"
      " VALUES(?,'running',?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
  s->bind(1, r.started_at.empty() ? utc_now() : r.started_at);
  s->bind(2, r.eebench_version).bind(3, r.git_sha).bind(4, int(r.git_dirty)).bind(5, r.compiler);
  s->bind(6, r.build_type).bind(7, r.cpu_model).bind(8, r.gpu_name).bind(9, r.gpu_uuid);
  s->bind(10, r.gpu_driver).bind(11, r.cuda_runtime).bind(12, r.cublas_version);
  s->bind(13, dump_object(r.library_versions)).bind(14, r.hostname).bind(15, static_cast<int64_t>(r.seed));
  s->bind(16, r.dtype).bind(17, r.threads).bind(18, r.backend).bind(19, r.command_line);
  s->bind(20, dump_object(r.spec));
  s->run();
  return sqlite3_last_insert_rowid(db_.get());
}

void ResultStore::finish_run(int64_t run, const std::string& status, const std::string& error) {
  check_status(status, "run");
  // "running" reopens a run (resume): no end time, no error.
  Use s(stmt("UPDATE runs SET status=?1, finished_at=CASE WHEN ?1='running' THEN NULL ELSE ?2 END, error=?3"
             " WHERE id=?4"));
  s->bind(1, status).bind(2, utc_now());
  if (error.empty()) s->bind_null(3);
  else s->bind(3, error);
  s->bind(4, run).run();
  if (sqlite3_changes(db_.get()) == 0) throw Error("no run " + std::to_string(run) + " in " + path_);
}

void ResultStore::set_run_spec(int64_t run, const json& spec) {
  Use s(stmt("UPDATE runs SET spec=? WHERE id=?"));
  s->bind(1, dump_object(spec)).bind(2, run).run();
  if (sqlite3_changes(db_.get()) == 0) throw Error("no run " + std::to_string(run) + " in " + path_);
}

RunInfo ResultStore::run(int64_t id) {
  Use s(stmt(
      "SELECT id, started_at, finished_at, status, eebench_version, git_sha, git_dirty, compiler,"
      " build_type, cpu_model, gpu_name, gpu_uuid, gpu_driver, cuda_runtime, cublas_version,"
      " library_versions, hostname, seed, dtype, threads, backend, command_line, spec, error"
      " FROM runs WHERE id=?"));
  s->bind(1, id);
  if (!s->step()) throw Error("no run " + std::to_string(id) + " in " + path_);
  const std::string where = "runs " + std::to_string(id);
  RunInfo r;
  r.id = s->i64(0), r.started_at = s->text(1), r.finished_at = s->text(2), r.status = s->text(3);
  r.eebench_version = s->text(4), r.git_sha = s->text(5), r.git_dirty = s->i64(6) != 0;
  r.compiler = s->text(7), r.build_type = s->text(8), r.cpu_model = s->text(9);
  r.gpu_name = s->text(10), r.gpu_uuid = s->text(11), r.gpu_driver = s->text(12);
  r.cuda_runtime = s->text(13), r.cublas_version = s->text(14);
  r.library_versions = parse_json(s->text(15), json::object(), path_, where + " library_versions");
  r.hostname = s->text(16), r.seed = static_cast<uint64_t>(s->i64(17)), r.dtype = s->text(18);
  r.threads = int(s->i64(19)), r.backend = s->text(20), r.command_line = s->text(21);
  r.spec = parse_json(s->text(22), json::object(), path_, where + " spec");
  r.error = s->text(23);
  return r;
}

std::vector<RunSummary> ResultStore::list_runs() {
  Use s(stmt(
      "SELECT r.id, r.started_at, r.finished_at, r.status, r.backend, r.command_line,"
      " (SELECT count(*) FROM trials t WHERE t.run_id = r.id),"
      " (SELECT count(*) FROM trials t JOIN samples x ON x.trial_id = t.id WHERE t.run_id = r.id)"
      " FROM runs r ORDER BY r.id"));
  std::vector<RunSummary> out;
  while (s->step())
    out.push_back({s->i64(0), s->text(1), s->text(2), s->text(3), s->text(4), s->text(5), s->i64(6), s->i64(7)});
  return out;
}

// ---- models, tasks, strategies: insert-or-get -------------------------------------------------

namespace {
// After an INSERT ... ON CONFLICT DO NOTHING, `find` (same parameter numbers) yields the row's id
// and whether its other columns equal the given ones.
template <class Bind>
int64_t insert_or_get(sql::Stmt& insert, sql::Stmt& find, Bind bind, const std::string& path,
                      const std::string& conflict) {
  {
    Use i(insert);
    bind(*i);
    i->run();
  }
  Use f(find);
  bind(*f);
  if (!f->step()) throw Error(path, "SQLite: row missing after insert");
  if (f->i64(1) == 0) throw Error(path, conflict);
  return f->i64(0);
}
}  // namespace

int64_t ResultStore::add_model(int64_t run, const ModelRow& m) {
  this->run(run);  // "no run N" rather than a foreign-key failure
  return insert_or_get(
      stmt("INSERT INTO models(run_id, path, weights_checksum, format, config, n_params)"
           " VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT DO NOTHING"),
      stmt("SELECT id, format IS ?4 AND config IS ?5 AND n_params IS ?6 FROM models"
           " WHERE run_id=?1 AND path=?2 AND weights_checksum=?3"),
      [&](sql::Stmt& s) {
        s.bind(1, run).bind(2, m.path).bind(3, m.weights_checksum).bind(4, m.format);
        s.bind(5, dump_object(m.config)).bind(6, m.n_params);
      },
      path_,
      "model " + m.path + " is already in run " + std::to_string(run) +
          " with a different format, config or parameter count");
}

int64_t ResultStore::add_task(int64_t run, const TaskRow& t) {
  this->run(run);
  return insert_or_get(
      stmt("INSERT INTO tasks(run_id, name, version, split, shots, template_hash, limit_n, n_docs)"
           " VALUES(?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT DO NOTHING"),
      stmt("SELECT id, n_docs IS ?8 FROM tasks WHERE run_id=?1 AND name=?2 AND version=?3 AND split=?4"
           " AND shots=?5 AND template_hash=?6 AND limit_n=?7"),
      [&](sql::Stmt& s) {
        s.bind(1, run).bind(2, t.name).bind(3, t.version).bind(4, t.split).bind(5, t.shots);
        s.bind(6, t.template_hash).bind(7, t.limit_n).bind(8, t.n_docs);
      },
      path_,
      "task " + t.name + " is already in run " + std::to_string(run) + " with a different document count (" +
          "its data changed?)");
}

int64_t ResultStore::add_strategy(int64_t run, const StrategyRow& st) {
  this->run(run);
  const std::string params = dump_object(st.params);
  {
    Use i(stmt("INSERT INTO strategies(run_id, name, params) VALUES(?,?,?) ON CONFLICT DO NOTHING"));
    i->bind(1, run).bind(2, st.name).bind(3, params).run();
  }
  Use f(stmt("SELECT id FROM strategies WHERE run_id=? AND name=? AND params=?"));
  f->bind(1, run).bind(2, st.name).bind(3, params);
  if (!f->step()) throw Error(path_, "SQLite: row missing after insert");
  return f->i64(0);
}

// ---- trials -----------------------------------------------------------------------------------

int64_t ResultStore::begin_trial(int64_t run, int64_t model, int64_t task, int64_t strategy) {
  Use s(stmt(
      "INSERT INTO trials(run_id, model_id, task_id, strategy_id, status, started_at)"
      " VALUES(?,?,?,?,'running',?) ON CONFLICT(run_id, model_id, task_id, strategy_id) DO UPDATE SET"
      " status = CASE WHEN status = 'finished' THEN status ELSE 'running' END,"
      " finished_at = CASE WHEN status = 'finished' THEN finished_at ELSE NULL END"
      " RETURNING id"));
  s->bind(1, run).bind(2, model).bind(3, task).bind(4, strategy).bind(5, utc_now());
  int64_t id = 0;
  try {
    if (s->step()) id = s->i64(0);
    s->run();  // to completion: the statement's transaction commits
  } catch (const sql::SqlError& e) {
    if (e.code != SQLITE_CONSTRAINT_FOREIGNKEY) throw;
    throw Error(path_, "begin_trial: model " + std::to_string(model) + ", task " + std::to_string(task) +
                           " or strategy " + std::to_string(strategy) + " is not part of run " +
                           std::to_string(run));
  }
  return id;
}

void ResultStore::finish_trial(int64_t trial, const std::string& status) {
  check_status(status, "trial");
  Use s(stmt("UPDATE trials SET status=?, finished_at=? WHERE id=?"));
  s->bind(1, status).bind(2, utc_now()).bind(3, trial).run();
  if (sqlite3_changes(db_.get()) == 0) throw Error("no trial " + std::to_string(trial) + " in " + path_);
}

void ResultStore::set_trial_decision(int64_t trial, const json& decision) {
  Use s(stmt("UPDATE trials SET decision=? WHERE id=?"));
  s->bind(1, dump_object(decision)).bind(2, trial).run();
  if (sqlite3_changes(db_.get()) == 0) throw Error("no trial " + std::to_string(trial) + " in " + path_);
}

std::vector<TrialRow> ResultStore::trials(int64_t run) {
  Use s(stmt(
      "SELECT t.id, t.run_id, t.status, t.started_at, t.finished_at,"
      " m.id, m.path, m.format, m.config, m.weights_checksum, m.n_params,"
      " k.id, k.name, k.version, k.split, k.shots, k.template_hash, k.limit_n, k.n_docs,"
      " g.id, g.name, g.params, t.decision,"
      " (SELECT count(*) FROM samples x WHERE x.trial_id = t.id)"
      " FROM trials t JOIN models m ON m.id = t.model_id JOIN tasks k ON k.id = t.task_id"
      " JOIN strategies g ON g.id = t.strategy_id WHERE t.run_id = ? ORDER BY t.id"));
  s->bind(1, run);
  std::vector<TrialRow> out;
  while (s->step()) {
    TrialRow t;
    const std::string where = "trial " + std::to_string(s->i64(0));
    t.id = s->i64(0), t.run_id = s->i64(1), t.status = s->text(2), t.started_at = s->text(3);
    t.finished_at = s->text(4);
    ModelRow& m = t.model;
    m.id = s->i64(5), m.run_id = t.run_id, m.path = s->text(6), m.format = s->text(7);
    m.config = parse_json(s->text(8), json::object(), path_, where + " model config");
    m.weights_checksum = s->text(9), m.n_params = s->i64(10);
    TaskRow& k = t.task;
    k.id = s->i64(11), k.run_id = t.run_id, k.name = s->text(12), k.version = s->text(13);
    k.split = s->text(14), k.shots = int(s->i64(15)), k.template_hash = s->text(16);
    k.limit_n = int(s->i64(17)), k.n_docs = int(s->i64(18));
    StrategyRow& g = t.strategy;
    g.id = s->i64(19), g.run_id = t.run_id, g.name = s->text(20);
    g.params = parse_json(s->text(21), json::object(), path_, where + " strategy params");
    t.decision = parse_json(s->text(22), json::object(), path_, where + " decision");
    t.n_samples = s->i64(23);
    out.push_back(std::move(t));
  }
  return out;
}

std::string ResultStore::integrity_check() {
  Use s(stmt("PRAGMA integrity_check"));
  std::string out;
  while (s->step()) out += (out.empty() ? "" : "; ") + s->text(0);
  return out;
}

}  // namespace eeb
