#include "strategies/exit_classifier.h"

#include <linear.h>
#include <xxhash.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"

namespace eeb {

ExitTrainingData collect_exit_features(Backend& b, const std::vector<Request>& reqs) {
  const int L = b.config().n_layers;
  ExitTrainingData d;
  for (const auto& req : reqs) {
    const int n = static_cast<int>(req.context.size());
    auto kv = b.new_cache(n);
    auto h = b.embed(req.context, 0);
    std::vector<ExitFeatures> f(L);
    for (int l = 0; l < L; ++l) {
      b.run_layer(l, *h, *kv);
      f[l] = b.exit_features(*h, n - 1);
    }
    for (int l = 0; l < L - 1; ++l) {
      d.x.push_back({double(f[l].gap()), double(f[l].p1)});
      d.y.push_back(f[l].top1 == f[L - 1].top1 ? 1 : 0);
      d.layer.push_back(l + 1);
    }
  }
  return d;
}

static void quiet(const char*) {}

namespace {

// Fields that newer liblinear versions add to struct parameter (nu: 2.40, one-class SVM;
// regularize_bias: 2.42). They are set when present, with the value that keeps the older
// behaviour, so a newer library trains the same classifier.
template <class P>
constexpr bool kHasNu = requires(P& p) { p.nu; };
template <class P>
constexpr bool kHasRegularizeBias = requires(P& p) { p.regularize_bias; };

// Number of members of an aggregate (brace-initialisable with that many convertible values).
struct AnyField {
  template <class T>
  operator T() const;
};
template <class T, class... A>
constexpr size_t field_count() {
  if constexpr (requires { T{A{}..., AnyField{}}; }) return field_count<T, A..., AnyField>();
  else return sizeof...(A);
}

// solver_type, eps, C, nr_weight, weight_label, weight, p, init_sol (+ nu, regularize_bias): a
// liblinear with a field not listed here fails to compile instead of leaving it zero.
static_assert(field_count<parameter>() == 8 + kHasNu<parameter> + kHasRegularizeBias<parameter>,
              "struct parameter of this liblinear has a field fill_liblinear_parameter does not set");

template <class P>
void set_newer_fields(P& param) {
  if constexpr (kHasNu<P>) param.nu = 0.5;                     // liblinear's default; one-class only
  if constexpr (kHasRegularizeBias<P>) param.regularize_bias = 1;  // the bias is regularised, as before 2.42
}

}  // namespace

void fill_liblinear_parameter(parameter& param, const std::string& solver, double C, int* labels,
                              double* weights) {
  param.solver_type = solver == "svm" ? L2R_L2LOSS_SVC_DUAL : L2R_LR;
  param.eps = solver == "svm" ? 0.1 : 0.01;  // liblinear's defaults for these two solvers
  param.C = C;
  param.nr_weight = 2;
  param.weight_label = labels;
  param.weight = weights;
  param.p = 0.1;            // epsilon of SVR's loss: unused by these solvers; liblinear's default
  param.init_sol = nullptr;  // no warm start
  set_newer_fields(param);
}

ExitClassifier train_exit_classifier(const ExitTrainingData& d, const std::string& solver,
                                     double C) {
  if (solver != "svm" && solver != "logreg")
    throw Error("adainfer: solver must be 'svm' or 'logreg', not '" + solver + "'");
  const int n = static_cast<int>(d.y.size());
  long pos = 0;
  for (int y : d.y) pos += y;
  ExitClassifier c;
  c.solver = solver;
  c.C = C;
  c.training = {{"rows", n}, {"positives", pos}};
  if (n == 0) throw Error("adainfer: no training rows (empty training split?)");
  if (pos == 0 || pos == n) {
    // One class only: a constant decision (never / always stop), stated in the training record.
    c.bias = pos == n ? 1.0 : -1.0;
    c.training["note"] = "single class in training data: constant decision";
    c.training["train_accuracy"] = 1.0;
    return c;
  }
  // liblinear problem: 2 features + bias term.
  std::vector<feature_node> nodes(size_t(n) * 4);
  std::vector<feature_node*> rows(n);
  std::vector<double> ys(n);
  for (int i = 0; i < n; ++i) {
    feature_node* r = &nodes[size_t(i) * 4];
    r[0] = {1, d.x[i][0]};
    r[1] = {2, d.x[i][1]};
    r[2] = {3, 1.0};  // bias feature (prob.bias)
    r[3] = {-1, 0};
    rows[i] = r;
    ys[i] = d.y[i] ? 1 : -1;
  }
  problem prob{};
  prob.l = n;
  prob.n = 3;
  prob.y = ys.data();
  prob.x = rows.data();
  prob.bias = 1.0;
  int labels[2] = {1, -1};
  double weights[2] = {double(n) / (2.0 * pos), double(n) / (2.0 * (n - pos))};  // balanced
  parameter param{};
  fill_liblinear_parameter(param, solver, C, labels, weights);
  if (const char* err = check_parameter(&prob, &param)) throw Error(std::string("liblinear: ") + err);
  set_print_string_function(quiet);
  model* m = train(&prob, &param);
  // Decision values are for m->label[0]; orient them so > 0 means "stop" (label 1).
  const double sign = m->label[0] == 1 ? 1.0 : -1.0;
  c.w = {sign * m->w[0], sign * m->w[1]};
  c.bias = sign * m->w[2] * prob.bias;
  free_and_destroy_model(&m);
  long correct = 0;
  for (int i = 0; i < n; ++i) {
    double v = c.w[0] * d.x[i][0] + c.w[1] * d.x[i][1] + c.bias;
    correct += (v > 0) == (d.y[i] == 1);
  }
  c.training["train_accuracy"] = double(correct) / n;
  return c;
}

nlohmann::json ExitClassifier::to_json() const {
  return {{"format", "eebench-exit-classifier-1"}, {"features", {"gap", "top_prob"}},
          {"solver", solver}, {"C", C}, {"w", w}, {"bias", bias}, {"training", training}};
}

ExitClassifier ExitClassifier::from_json(const nlohmann::json& j, const std::string& file) {
  try {
    if (j.at("format") != "eebench-exit-classifier-1")
      throw Error(file, "not an eebench exit classifier (format field)");
    ExitClassifier c;
    c.solver = j.at("solver").get<std::string>();
    c.C = j.at("C").get<double>();
    auto w = j.at("w").get<std::vector<double>>();
    if (w.size() != 2) throw Error(file, "classifier needs 2 weights, has " + std::to_string(w.size()));
    c.w = {w[0], w[1]};
    c.bias = j.at("bias").get<double>();
    if (j.contains("training")) c.training = j["training"];
    return c;
  } catch (const nlohmann::json::exception& e) {
    throw Error(file, std::string("bad exit classifier: ") + e.what());
  }
}

void ExitClassifier::save(const std::string& path) const {
  write_file_atomic(path, to_json().dump(2) + "\n");
}

ExitClassifier ExitClassifier::load(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error(path, "cannot open classifier file");
  std::stringstream ss;
  ss << f.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) throw Error(path, "classifier file is not JSON");
  return from_json(j, path);
}

std::string ExitClassifier::hash() const {
  std::string s = to_json().dump();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(s.data(), s.size())));
  return buf;
}

}  // namespace eeb
