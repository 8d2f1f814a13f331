// ResultStore: a run's expansion (planned_trials) and the paper targets table.
#include "results/codec.h"
#include "results/sqlite_util.h"
#include "results/store.h"

namespace eeb {
using nlohmann::json;
using sql::Use;

namespace {

// BEGIN IMMEDIATE ... COMMIT, rolled back when the scope is left by an exception.
class WriteTx {
 public:
  WriteTx(sqlite3* db, const std::string& path) : db_(db), path_(path) { sql::exec(db, path, "BEGIN IMMEDIATE"); }
  void commit() {
    sql::exec(db_, path_, "COMMIT");
    done_ = true;
  }
  ~WriteTx() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

 private:
  sqlite3* db_;
  const std::string& path_;
  bool done_ = false;
};

}  // namespace

void ResultStore::plan_trials(int64_t run, const std::vector<json>& specs) {
  WriteTx tx(db_.get(), path_);
  for (size_t i = 0; i < specs.size(); ++i) {
    Use s(stmt("INSERT INTO planned_trials(run_id, idx, spec, status) VALUES(?,?,?,'pending')"
               " ON CONFLICT(run_id, idx) DO NOTHING"));
    s->bind(1, run).bind(2, static_cast<int64_t>(i)).bind(3, sql::dump_object(specs[i])).run();
  }
  tx.commit();
}

std::vector<PlannedTrial> ResultStore::planned_trials(int64_t run) {
  Use s(stmt("SELECT run_id, idx, spec, status, trial_id, exit_status, error, stderr_tail"
             " FROM planned_trials WHERE run_id = ? ORDER BY idx"));
  s->bind(1, run);
  std::vector<PlannedTrial> out;
  while (s->step()) {
    PlannedTrial p;
    p.run_id = s->i64(0), p.idx = static_cast<int>(s->i64(1));
    p.spec = sql::parse_json(s->text(2), json::object(), path_, "planned trial " + std::to_string(p.idx));
    p.status = s->text(3);
    if (!s->null(4)) p.trial_id = s->i64(4);
    p.exit_status = s->text(5), p.error = s->text(6), p.stderr_tail = s->text(7);
    out.push_back(std::move(p));
  }
  return out;
}

void ResultStore::update_planned(const PlannedTrial& p) {
  if (p.status != "pending" && p.status != "running" && p.status != "finished" && p.status != "failed")
    throw Error(path_, "invalid planned trial status '" + p.status + "'");
  Use s(stmt("UPDATE planned_trials SET status=?, trial_id=?, exit_status=?, error=?, stderr_tail=?"
             " WHERE run_id=? AND idx=?"));
  s->bind(1, p.status);
  if (p.trial_id) s->bind(2, *p.trial_id);
  else s->bind_null(2);
  s->bind(3, p.exit_status).bind(4, p.error).bind(5, p.stderr_tail).bind(6, p.run_id);
  s->bind(7, static_cast<int64_t>(p.idx)).run();
  if (sqlite3_changes(db_.get()) == 0)
    throw Error(path_, "no planned trial " + std::to_string(p.idx) + " in run " + std::to_string(p.run_id));
}

void ResultStore::put_targets(const std::string& paper, const std::string& version,
                              const std::vector<TargetRow>& rows) {
  WriteTx tx(db_.get(), path_);
  {
    Use d(stmt("DELETE FROM targets WHERE paper=? AND version=?"));
    d->bind(1, paper).bind(2, version).run();
  }
  const std::string now = utc_now();
  for (const auto& r : rows) {
    Use s(stmt("INSERT INTO targets(paper, version, row_key, source, model, task, setting, metric, value,"
               " lower, upper, text_value, note, loaded_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
    s->bind(1, paper).bind(2, version).bind(3, r.row_key).bind(4, r.source).bind(5, r.model).bind(6, r.task);
    s->bind(7, sql::dump_object(r.setting)).bind(8, r.metric);
    s->bind(9, r.value).bind(10, r.lower).bind(11, r.upper);
    s->bind(12, r.text_value).bind(13, r.note).bind(14, now).run();
  }
  tx.commit();
}

std::vector<TargetRow> ResultStore::targets(const std::string& paper) {
  Use s(stmt("SELECT paper, version, row_key, source, model, task, setting, metric, value, lower, upper,"
             " text_value, note FROM targets WHERE paper = ? ORDER BY version, rowid"));
  s->bind(1, paper);
  std::vector<TargetRow> out;
  while (s->step()) {
    TargetRow r;
    r.paper = s->text(0), r.version = s->text(1), r.row_key = s->text(2), r.source = s->text(3);
    r.model = s->text(4), r.task = s->text(5);
    r.setting = sql::parse_json(s->text(6), json::object(), path_, "target " + r.row_key);
    r.metric = s->text(7);
    r.value = s->opt_f64(8), r.lower = s->opt_f64(9), r.upper = s->opt_f64(10);
    r.text_value = s->text(11), r.note = s->text(12);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace eeb
