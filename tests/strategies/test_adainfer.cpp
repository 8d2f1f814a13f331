// AdaInfer's classifier: liblinear training on features with a known separating rule, orientation of
// the decision value, persistence, and feature collection against the backend's logit lens.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>

#include "backends/registry.h"
#include "core/error.h"
#include "strategies/exit_classifier.h"
#include "tests/random_model.h"

using namespace eeb;

namespace {

ExitTrainingData separable(int n, uint64_t seed) {
  // Label 1 ("the layer already agrees with the final one") iff top prob > 0.6: a rule a linear
  // classifier over (gap, top prob) can learn.
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  ExitTrainingData d;
  for (int i = 0; i < n; ++i) {
    double p1 = u(rng), p2 = u(rng) * (1 - p1);
    d.x.push_back({p1 - p2, p1});
    d.y.push_back(p1 > 0.6 ? 1 : 0);
    d.layer.push_back(1);
  }
  return d;
}

}  // namespace

TEST_CASE("liblinear SVM and logistic regression learn the stop rule", "[adainfer]") {
  auto d = separable(2000, 1);
  for (std::string solver : {"svm", "logreg"}) {
    auto c = train_exit_classifier(d, solver, 10.0);
    INFO(solver);
    CHECK(c.training["train_accuracy"].get<double>() > 0.9);
    ExitFeatures hi, lo;
    hi.p1 = 0.95f, hi.p2 = 0.01f;
    lo.p1 = 0.2f, lo.p2 = 0.15f;
    CHECK(c.decision(hi) > 0);  // positive decision = stop
    CHECK(c.decision(lo) < 0);
  }
  CHECK_THROWS_WITH(train_exit_classifier(d, "tree", 1.0), Catch::Contains("solver"));
}

TEST_CASE("single-class training data gives a constant decision, stated", "[adainfer]") {
  ExitTrainingData d;
  d.x = {{0.1, 0.5}, {0.2, 0.6}};
  d.y = {1, 1};
  auto c = train_exit_classifier(d, "svm", 1.0);
  CHECK(c.decision(ExitFeatures{}) > 0);
  CHECK(c.training.contains("note"));
}

TEST_CASE("exit classifier persists exactly and rejects bad files", "[adainfer]") {
  auto c = train_exit_classifier(separable(300, 2), "svm", 1.0);
  auto dir = std::filesystem::temp_directory_path() / ("eeb_clf_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = (dir / "clf.json").string();
  c.save(path);
  auto c2 = ExitClassifier::load(path);
  CHECK(c2.w == c.w);
  CHECK(c2.bias == c.bias);
  CHECK(c2.hash() == c.hash());
  auto c3 = c2;
  c3.bias += 1e-3;
  CHECK(c3.hash() != c.hash());
  std::ofstream(dir / "bad.json") << "{\"format\": \"eebench-exit-classifier-1\", \"w\": [1]}";
  CHECK_THROWS_WITH(ExitClassifier::load((dir / "bad.json").string()), Catch::Contains("bad.json"));
  std::ofstream(dir / "nojson.json") << "not json";
  CHECK_THROWS_WITH(ExitClassifier::load((dir / "nojson.json").string()), Catch::Contains("not JSON"));
  CHECK_THROWS_AS(ExitClassifier::load((dir / "missing.json").string()), Error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("collected features and labels match the backend's logit lens", "[adainfer]") {
  auto cfg = eeb::testing::tiny_config(3, 32, 4, 2, 48, 64);
  auto model = eeb::testing::random_model(cfg, 5);
  auto b = make_backend("cpu", model, BackendOptions{});
  Doc doc;
  Request req;
  req.doc = &doc;
  req.context = {1, 5, 9, 13, 2};
  auto d = collect_exit_features(*b, {req});
  REQUIRE(d.y.size() == 2);  // layers 1 .. L-1
  auto kv = b->new_cache(5);
  auto h = b->embed(req.context, 0);
  std::vector<ExitFeatures> f;
  for (int l = 0; l < 3; ++l) {
    b->run_layer(l, *h, *kv);
    f.push_back(b->exit_features(*h, 4));
  }
  for (int l = 0; l < 2; ++l) {
    CHECK(d.x[l][0] == Approx(f[l].p1 - f[l].p2));
    CHECK(d.x[l][1] == Approx(f[l].p1));
    CHECK(d.y[l] == (f[l].top1 == f[2].top1 ? 1 : 0));
  }
}
