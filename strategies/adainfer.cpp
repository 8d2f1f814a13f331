// adainfer (Fan et al., "Not All Layers of LLMs Are Necessary During Inference"): after each layer,
// the logit lens at the scoring position gives (gap, top prob); a linear classifier trained on the
// model's own layers decides to stop (decision value > threshold). Context computation stops there.
// Parameters: classifier (a saved file; else trained in prepare on train_split/train_size of the
// run's task), solver (svm|logreg), C, threshold (default 0), save (write the trained classifier).
#include "core/error.h"
#include "strategies/builtin.h"
#include "strategies/exit_classifier.h"
#include "strategies/exit_policy.h"

namespace eeb {
namespace {

class AdaInfer : public ExitPolicy {
 public:
  explicit AdaInfer(nlohmann::json p) : p_(std::move(p)), threshold_(p_.value("threshold", 0.0)) {}
  std::string name() const override { return "adainfer"; }
  nlohmann::json params() const override {
    auto out = p_;
    out["threshold"] = threshold_;
    out["classifier_hash"] = clf_.hash();
    out["classifier_model"] = clf_.to_json();
    return out;
  }
  bool should_exit(int, const ExitFeatures& f) override { return clf_.decision(f) > threshold_; }

  void prepare(RunContext& ctx, const Task& task, const TaskOptions& opt) override {
    if (p_.contains("classifier")) {
      clf_ = ExitClassifier::load(p_["classifier"].get<std::string>());
      return;
    }
    TaskOptions o = opt;
    o.split = p_.value("train_split", std::string(task.name() == "mmlu" ? "dev" : "train"));
    o.limit = p_.value("train_size", 256);
    auto docs = task.load(o);
    std::vector<Request> reqs;
    for (size_t i = 0; i < docs.size(); ++i)
      reqs.push_back(make_request(docs[i], static_cast<int>(i), ctx.tokenizer(), true,
                                  ctx.backend.config().max_seq_len));
    auto data = collect_exit_features(ctx.backend, reqs);
    clf_ = train_exit_classifier(data, p_.value("solver", std::string("svm")), p_.value("C", 1.0));
    clf_.training["split"] = o.split;
    clf_.training["documents"] = docs.size();
    if (p_.contains("save")) clf_.save(p_["save"].get<std::string>());
  }

 private:
  nlohmann::json p_;
  double threshold_;
  ExitClassifier clf_;
};

}  // namespace

std::unique_ptr<Strategy> make_adainfer(const nlohmann::json& p) {
  check_params(p, {"classifier", "threshold", "solver", "C", "train_split", "train_size", "save"},
               "strategy adainfer");
  if (p.contains("threshold") && !p["threshold"].is_number())
    throw Error("strategy adainfer: threshold must be a number");
  return make_exit_strategy(std::make_unique<AdaInfer>(p));
}

}  // namespace eeb
