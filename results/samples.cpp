// ResultStore: per-sample records and metrics.
#include <cmath>

#include "results/codec.h"
#include "results/sqlite_util.h"
#include "results/store.h"

namespace eeb {
using nlohmann::json;
using sql::Use;

namespace {
std::optional<int> correct_flag(int gold, int pred) {
  if (gold < 0) return std::nullopt;
  return pred == gold ? 1 : 0;
}
std::optional<double> real(double v) { return std::isnan(v) ? std::nullopt : std::optional<double>(v); }
}  // namespace

void ResultStore::add_sample(int64_t trial, const SampleRow& r) {
  if (r.doc_index < 0)
    throw Error(path_, "sample of trial " + std::to_string(trial) + " has a negative doc_index");
  const std::string loglik = sql::encode_loglik(r.loglik);
  {
    // One statement in autocommit mode: one short write transaction, durable when it returns.
    Use s(stmt(
        "INSERT INTO samples(trial_id, doc_index, doc_id, grp, gold, pred, pred_norm, correct, correct_norm,"
        " loglik, layers_executed, lm_head_calls, seconds, extra) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT(trial_id, doc_index) DO NOTHING"));
    s->bind(1, trial).bind(2, r.doc_index).bind(3, r.doc_id).bind(4, r.group).bind(5, r.gold);
    s->bind(6, r.pred).bind(7, r.pred_norm).bind(8, correct_flag(r.gold, r.pred));
    s->bind(9, correct_flag(r.gold, r.pred_norm)).bind(10, loglik).bind(11, real(r.layers_executed));
    s->bind(12, real(r.lm_head_calls)).bind(13, real(r.seconds)).bind(14, sql::dump_object(r.extra));
    try {
      s->run();
    } catch (const sql::SqlError& e) {
      if (e.code != SQLITE_CONSTRAINT_FOREIGNKEY) throw;
      throw Error("no trial " + std::to_string(trial) + " in " + path_);
    }
    if (sqlite3_changes(db_.get()) == 1) return;
  }
  // Already stored (a resumed or overlapping writer): the results must agree. Samples are never
  // updated, so the stored row cannot change between the insert and this check.
  Use q(stmt(
      "SELECT doc_id IS ?3 AND grp IS ?4 AND gold IS ?5 AND pred IS ?6 AND pred_norm IS ?7 AND loglik IS ?8"
      " AND layers_executed IS ?9 AND lm_head_calls IS ?10 FROM samples WHERE trial_id=?1 AND doc_index=?2"));
  q->bind(1, trial).bind(2, r.doc_index).bind(3, r.doc_id).bind(4, r.group).bind(5, r.gold).bind(6, r.pred);
  q->bind(7, r.pred_norm).bind(8, loglik).bind(9, real(r.layers_executed)).bind(10, real(r.lm_head_calls));
  if (!q->step()) throw Error(path_, "SQLite: sample missing after insert");
  if (q->i64(0) == 0)
    throw Error(path_, "sample " + std::to_string(r.doc_index) + " of trial " +
                           std::to_string(trial) + " is already stored with different results");
}

std::set<int> ResultStore::done_samples(int64_t trial) {
  Use s(stmt("SELECT doc_index FROM samples WHERE trial_id=?"));
  s->bind(1, trial);
  std::set<int> out;
  while (s->step()) out.insert(int(s->i64(0)));
  return out;
}

std::vector<SampleRow> ResultStore::samples(int64_t trial) {
  Use s(stmt(
      "SELECT doc_index, doc_id, grp, gold, pred, pred_norm, correct, correct_norm, loglik, layers_executed,"
      " lm_head_calls, seconds, extra FROM samples WHERE trial_id=? ORDER BY doc_index"));
  s->bind(1, trial);
  std::vector<SampleRow> out;
  while (s->step()) {
    SampleRow r;
    const std::string where = "trial " + std::to_string(trial) + " sample " + std::to_string(s->i64(0));
    r.doc_index = int(s->i64(0)), r.doc_id = s->text(1), r.group = s->text(2);
    r.gold = int(s->i64(3)), r.pred = int(s->i64(4)), r.pred_norm = int(s->i64(5));
    if (!s->null(6)) r.correct = s->i64(6) != 0;
    if (!s->null(7)) r.correct_norm = s->i64(7) != 0;
    r.loglik = sql::decode_loglik(s->text(8), path_, where);
    r.layers_executed = sql::real_or_nan(s->null(9), s->f64(9));
    r.lm_head_calls = sql::real_or_nan(s->null(10), s->f64(10));
    r.seconds = sql::real_or_nan(s->null(11), s->f64(11));
    r.extra = sql::parse_json(s->text(12), json::object(), path_, where + " extra");
    out.push_back(std::move(r));
  }
  return out;
}

void ResultStore::put_metric(int64_t trial, const MetricRow& m) {
  Use s(stmt(
      "INSERT INTO metrics(trial_id, name, grp, value, stderr, n, detail) VALUES(?,?,?,?,?,?,?)"
      " ON CONFLICT(trial_id, name, grp) DO UPDATE SET value=excluded.value, stderr=excluded.stderr,"
      " n=excluded.n, detail=excluded.detail"));
  s->bind(1, trial).bind(2, m.name).bind(3, m.group).bind(4, real(m.value));
  s->bind(5, m.std_err ? real(*m.std_err) : std::nullopt).bind(6, m.n).bind(7, sql::dump_object(m.detail));
  try {
    s->run();
  } catch (const sql::SqlError& e) {
    if (e.code != SQLITE_CONSTRAINT_FOREIGNKEY) throw;
    throw Error("no trial " + std::to_string(trial) + " in " + path_);
  }
}

std::vector<MetricRow> ResultStore::metrics(int64_t trial) {
  Use s(stmt("SELECT name, grp, value, stderr, n, detail FROM metrics WHERE trial_id=? ORDER BY grp, name"));
  s->bind(1, trial);
  std::vector<MetricRow> out;
  while (s->step()) {
    MetricRow m;
    m.name = s->text(0), m.group = s->text(1), m.value = sql::real_or_nan(s->null(2), s->f64(2));
    m.std_err = s->opt_f64(3);
    m.n = s->i64(4);
    m.detail = sql::parse_json(s->text(5), json::object(), path_,
                               "trial " + std::to_string(trial) + " metric " + m.name + " detail");
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace eeb
