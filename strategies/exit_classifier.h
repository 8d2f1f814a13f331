// AdaInfer's stop classifier (Fan et al.): a linear model over the logit-lens features of the
// scoring position after each layer, x = (gap = p1 - p2, top prob p1). Training labels are 1 when
// that layer's top-1 token equals the final layer's top-1 token. Trained with liblinear (linear SVM,
// or logistic regression), balanced class weights. Decision value > threshold means "stop".
#pragma once
#include <array>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "tasks/task.h"

struct parameter;  // liblinear's training parameters (<linear.h>)

namespace eeb {

struct ExitTrainingData {
  std::vector<std::array<double, 2>> x;  // (gap, top prob)
  std::vector<int> y;                    // 1: this layer already predicts the final top-1
  std::vector<int> layer;                // 1-based layer of each row
};

// Runs every request's context at full depth and records features and labels for layers 1..L-1.
ExitTrainingData collect_exit_features(Backend& b, const std::vector<Request>& reqs);

struct ExitClassifier {
  std::string solver = "svm";  // svm (L2-regularised L2-loss SVC) | logreg (L2-regularised LR)
  double C = 1.0;
  std::array<double, 2> w{0, 0};
  double bias = 0;
  nlohmann::json training = nlohmann::json::object();  // sizes, class balance, train accuracy

  double decision(const ExitFeatures& f) const { return w[0] * f.gap() + w[1] * f.p1 + bias; }
  nlohmann::json to_json() const;
  static ExitClassifier from_json(const nlohmann::json& j, const std::string& file);
  void save(const std::string& path) const;
  static ExitClassifier load(const std::string& path);  // Error naming the file on bad content
  std::string hash() const;                             // xxh3-64 of the canonical JSON
};

ExitClassifier train_exit_classifier(const ExitTrainingData& d, const std::string& solver,
                                     double C);

// Sets every field of liblinear's struct parameter for train_exit_classifier: solver (svm: L2R_L2LOSS_SVC_DUAL,
// eps 0.1; logreg: L2R_LR, eps 0.01), C, the two class weights (labels/weights: 2 entries, kept alive by
// the caller), p = 0.1, no initial solution, and where this liblinear has them nu = 0.5 and
// regularize_bias = 1 (the behaviour of the versions without the field). Exposed for the tests.
void fill_liblinear_parameter(::parameter& param, const std::string& solver, double C, int* labels,
                              double* weights);

}  // namespace eeb
