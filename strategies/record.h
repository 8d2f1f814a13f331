// Builds a SampleRecord from choice scores, so every strategy fills predictions the same way.
// (Times are the runner's business: it fills SampleRecord::seconds.)
#pragma once
#include "strategies/scoring.h"
#include "strategies/strategy.h"

namespace eeb {

inline SampleRecord make_record(const Request& req, const ChoiceScores& s, double layers) {
  SampleRecord r;
  r.index = req.index;
  r.doc_id = req.doc->id;
  r.group = req.doc->group;
  r.gold = req.doc->gold;
  r.loglik = s.loglik;
  r.is_greedy = s.is_greedy;
  r.pred = argmax_choice(s.loglik);
  r.pred_norm = argmax_choice_norm(s.loglik, *req.doc);
  r.layers_executed = layers;
  return r;
}

}  // namespace eeb
