// Every field of liblinear's struct parameter is set explicitly (issue 10, defect 12): a field the
// code leaves alone would take whatever the struct's initialiser gives it, and a newer liblinear's
// new fields (nu, regularize_bias) would then change or reject the classifier.
#include <catch2/catch.hpp>
#include <linear.h>

#include <cstring>

#include "strategies/exit_classifier.h"

namespace {
template <class P>
constexpr bool has_nu = requires(P& p) { p.nu; };
template <class P>
constexpr bool has_regularize_bias = requires(P& p) { p.regularize_bias; };

template <class P>
void check_newer_fields(const P& p) {
  if constexpr (has_nu<P>) CHECK(p.nu == 0.5);
  if constexpr (has_regularize_bias<P>) CHECK(p.regularize_bias == 1);
}
}  // namespace

TEST_CASE("liblinear parameters: every field set, whatever the struct held before", "[adainfer]") {
  int labels[2] = {1, -1};
  double weights[2] = {0.75, 1.5};
  for (const std::string solver : {"svm", "logreg"}) {
    INFO(solver);
    parameter p;
    std::memset(&p, 0xA5, sizeof p);  // garbage: a field the code forgets keeps it and fails below
    eeb::fill_liblinear_parameter(p, solver, 2.5, labels, weights);
    CHECK(p.solver_type == (solver == "svm" ? L2R_L2LOSS_SVC_DUAL : L2R_LR));
    CHECK(p.eps == (solver == "svm" ? 0.1 : 0.01));  // liblinear's train -e defaults for the solver
    CHECK(p.C == 2.5);
    CHECK(p.nr_weight == 2);
    CHECK(p.weight_label == labels);
    CHECK(p.weight == weights);
    CHECK(p.p == 0.1);
    CHECK(p.init_sol == nullptr);
    check_newer_fields(p);
    // liblinear accepts it for a 2-feature problem with a bias column.
    feature_node row[4] = {{1, 0.5}, {2, 0.25}, {3, 1.0}, {-1, 0}};
    feature_node* rows[1] = {row};
    double y[1] = {1};
    problem prob{};
    prob.l = 1, prob.n = 3, prob.y = y, prob.x = rows, prob.bias = 1.0;
    CHECK(check_parameter(&prob, &p) == nullptr);
  }
}
