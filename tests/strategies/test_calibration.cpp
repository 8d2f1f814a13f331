// Layer-similarity calibration: the in-process cache must never hand one model's scores to another
// (issue 10, defect 1), and the run's --limit never shrinks the calibration set (defect 10).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <new>
#include <unistd.h>

#include "backends/backend.h"
#include "backends/registry.h"
#include "backends/counting.h"
#include "strategies/calibration.h"
#include "tests/random_model.h"
#include "tests/test_data.h"
#include "tokenizer/tokenizer.h"

using namespace eeb;

namespace {

// A 64-piece SentencePiece vocabulary: <unk> <s> </s>, then "▁a".."▁z", then letters.
std::unique_ptr<Tokenizer> tiny_tokenizer() {
  EmbeddedVocab v;
  v.tokens = {"<unk>", "<s>", "</s>"};
  v.types = {2, 3, 3};
  for (char c = 'a'; c <= 'z'; ++c) v.tokens.push_back("\xE2\x96\x81" + std::string(1, c)), v.types.push_back(1);
  for (char c = 'a'; c <= 'z'; ++c) v.tokens.push_back(std::string(1, c)), v.types.push_back(1);
  while (v.tokens.size() < 64) v.tokens.push_back("<x" + std::to_string(v.tokens.size()) + ">"), v.types.push_back(4);
  for (size_t i = 0; i < v.tokens.size(); ++i) v.scores.push_back(-float(i));
  return Tokenizer::from_proto(sentencepiece_proto_from_vocab(v), "tiny");
}

struct TempFile {
  std::string path;
  explicit TempFile(const std::string& text) {
    static int counter = 0;
    path = (std::filesystem::temp_directory_path() /
            ("eeb_calib_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".txt"))
               .string();
    std::ofstream(path) << text;
  }
  ~TempFile() { std::filesystem::remove(path); }
};

double cos64(const std::vector<float>& a, const std::vector<float>& b, size_t off, int n) {
  double ab = 0, aa = 0, bb = 0;
  for (int i = 0; i < n; ++i) ab += double(a[off + i]) * b[off + i], aa += double(a[off + i]) * a[off + i],
                              bb += double(b[off + i]) * b[off + i];
  return ab / std::sqrt(aa * bb);
}

// Block Influence written out in the test: mean over every token of 1 - cos(input, output) per layer.
std::vector<double> reference_bi(Backend& b, const std::vector<std::vector<int32_t>>& seqs) {
  const int L = b.config().n_layers, D = b.config().dim;
  std::vector<double> bi(L, 0.0);
  double tokens = 0;
  for (const auto& s : seqs) {
    const int T = int(s.size());
    auto kv = b.new_cache(T);
    auto h = b.embed(s, 0);
    std::vector<float> before(size_t(T) * D), after(size_t(T) * D);
    b.read_hidden(*h, 0, T, before.data());
    for (int l = 0; l < L; ++l) {
      b.run_layer(l, *h, *kv);
      b.read_hidden(*h, 0, T, after.data());
      for (int t = 0; t < T; ++t) bi[l] += 1 - cos64(before, after, size_t(t) * D, D);
      before.swap(after);
    }
    tokens += T;
  }
  for (auto& v : bi) v /= tokens;
  return bi;
}

}  // namespace

TEST_CASE("calibration is not reused across models, even for a backend at the same address", "[calibration]") {
  const auto cfg = eeb::testing::tiny_config(4, 32, 4, 2, 48, 64);
  Model models[2] = {eeb::testing::random_model(cfg, 101), eeb::testing::random_model(cfg, 202)};
  for (auto& m : models) compute_checksum(m);
  REQUIRE(models[0].weights_checksum != models[1].weights_checksum);
  auto tok = tiny_tokenizer();
  const std::vector<std::string> lines = {"the cat sat", "a dog ran far", "zebras eat grass"};
  TempFile file(lines[0] + "\n" + lines[1] + "\n\n" + lines[2] + "\n");
  std::vector<std::vector<int32_t>> seqs;  // BOS + the line's ids, as calibration.h promises
  for (const auto& l : lines) {
    seqs.push_back({tok->bos()});
    for (int id : tok->encode(l)) seqs.back().push_back(id);
  }
  auto task = make_task("sst2");  // only named: the calibration file is the data
  const nlohmann::json params = {{"calib_file", file.path}, {"calib_size", 8}};

  // Every backend the strategy sees lives at one address (the harness frees a model before loading
  // the next, so the allocator may well hand out the same address): a wrapper placed in one buffer.
  alignas(CountingBackend) unsigned char slot[sizeof(CountingBackend)];
  std::vector<double> got[3], want[3];
  for (int k = 0; k < 3; ++k) {  // model 0, model 1, model 0 again
    const Model& m = models[k % 2];
    auto inner = make_backend("cpu", m, BackendOptions{});
    auto* b = new (slot) CountingBackend(*inner);
    RunContext ctx{*b, tok.get(), {{kWeightsChecksumKey, m.weights_checksum}}};
    got[k] = cached_layer_similarity(ctx, *task, TaskOptions{}, params).block_influence;
    b->~CountingBackend();
    auto fresh = make_backend("cpu", m, BackendOptions{});
    want[k] = reference_bi(*fresh, seqs);
  }
  // The two models' scores differ, so a reused measurement would be seen.
  REQUIRE(std::fabs(want[0][1] - want[1][1]) > 1e-4);
  for (int k = 0; k < 3; ++k) {
    INFO("call " << k);
    REQUIRE(got[k].size() == want[k].size());
    for (size_t l = 0; l < got[k].size(); ++l) CHECK(got[k][l] == Approx(want[k][l]).epsilon(1e-9));
  }
  CHECK(got[2] == got[0]);  // the same weights again: the cached measurement, unchanged
}

TEST_CASE("without a weights checksum the calibration is measured afresh", "[calibration]") {
  const auto cfg = eeb::testing::tiny_config(3, 32, 4, 2, 48, 64);
  auto tok = tiny_tokenizer();
  TempFile file("one two three\nfour five\n");
  auto task = make_task("sst2");
  const nlohmann::json params = {{"calib_file", file.path}};
  std::vector<double> bi[2];
  for (int k = 0; k < 2; ++k) {
    auto m = eeb::testing::random_model(cfg, 7 + k);
    auto b = make_backend("cpu", m, BackendOptions{});
    RunContext ctx{*b, tok.get(), nlohmann::json::object()};
    CHECK(calibration_cache_key(ctx, {{1, 2}}).empty());
    bi[k] = cached_layer_similarity(ctx, *task, TaskOptions{}, params).block_influence;
  }
  CHECK(bi[0] != bi[1]);
}

TEST_CASE("the cache key separates backends, dtypes and calibration sequences", "[calibration]") {
  const auto cfg = eeb::testing::tiny_config(2, 32, 4, 2, 48, 64);
  auto m = eeb::testing::random_model(cfg, 3);
  compute_checksum(m);
  auto b = make_backend("cpu", m, BackendOptions{});
  RunContext ctx{*b, nullptr, {{kWeightsChecksumKey, m.weights_checksum}}};
  const std::string k = calibration_cache_key(ctx, {{1, 5, 6}});
  CHECK_FALSE(k.empty());
  CHECK(k == calibration_cache_key(ctx, {{1, 5, 6}}));
  CHECK(k != calibration_cache_key(ctx, {{1, 5}}));      // truncated, or another size
  CHECK(k != calibration_cache_key(ctx, {{5, 6}}));      // no BOS
  CHECK(k != calibration_cache_key(ctx, {{1}, {5, 6}}));  // same ids, other sequences
  RunContext other{*b, nullptr, {{kWeightsChecksumKey, "0123456789abcdef"}}};
  CHECK(k != calibration_cache_key(other, {{1, 5, 6}}));
}

TEST_CASE("limit does not shrink the calibration set", "[calibration]") {
  SKIP_WITHOUT_DATA();
  const std::string data = eeb::testing::shared_data();
  auto tok = Tokenizer::from_file(data + "/models/sst-lm-12L/tokenizer.model");
  const auto cfg = eeb::testing::tiny_config(2, 32, 4, 2, 48, 64);
  auto m = eeb::testing::random_model(cfg, 3);
  auto b = make_backend("cpu", m, BackendOptions{});
  RunContext ctx{*b, tok.get(), nlohmann::json::object()};
  for (const std::string name : {"sst2", "mmlu"}) {
    INFO(name);
    auto task = make_task(name);
    TaskOptions opt;
    opt.data_dir = data + "/datasets";
    opt.limit = 2;  // the run's --limit
    const nlohmann::json params = {{"calib_size", 7}, {"calib_split", name == "mmlu" ? "dev" : "train"}};
    const auto seqs = calibration_sequences(ctx, *task, opt, params);
    CHECK(seqs.size() == 7);
    // The same documents as with no limit at all.
    opt.limit = 0;
    CHECK(calibration_sequences(ctx, *task, opt, params) == seqs);
  }
}

TEST_CASE("limit does not shrink AdaInfer's training set", "[calibration][adainfer]") {
  SKIP_WITHOUT_DATA();
  const std::string data = eeb::testing::shared_data();
  Model m = load_model(data + "/models/sst-lm-12L");
  auto tok = Tokenizer::for_model(m);
  auto b = make_backend("cpu", m, BackendOptions{});
  RunContext ctx{*b, tok.get(), nlohmann::json::object()};
  auto task = make_task("sst2");
  TaskOptions opt;
  opt.data_dir = data + "/datasets";
  opt.limit = 2;  // the run's --limit
  auto st = make_strategy("adainfer", {{"train_size", 6}});
  st->prepare(ctx, *task, opt);
  const auto training = st->params().at("classifier_model").at("training");
  CHECK(training.at("documents").get<int>() == 6);
  CHECK(training.at("rows").get<int>() == 6 * (m.cfg.n_layers - 1));  // layers 1 .. L-1 of each
}
