// Layer-similarity measurements on a calibration set, for layer-removal strategies.
//   Block Influence (ShortGPT, Men et al.): BI_i = 1 - cos(x_i, x_{i+1}), averaged over every token
//   position of every calibration sequence (x_i = input of layer i, x_{i+1} = its output).
//   Angular distance (Gromov et al.): d(l, l+n) = arccos(cos(x_l, x_{l+n})) / pi at the last token,
//   averaged over sequences.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "strategies/strategy.h"

namespace eeb {

struct LayerSimilarity {
  std::vector<double> block_influence;       // [L]
  std::vector<std::vector<double>> angular;  // [n][l], n = 0..L, l = 0..L-n
  long sequences = 0, tokens = 0;
};

LayerSimilarity measure_layer_similarity(Backend& b,
                                         const std::vector<std::vector<int32_t>>& sequences);

// Calibration sequences: params.calib_file (a text file, one sample per non-empty line) or the run's
// task on params.calib_split (default "train"), params.calib_size documents (default 128), the
// context followed by the gold continuation, BOS first, truncated to the model's context length.
// The run's opt.limit is not applied (calib_size is the calibration set's size; MMLU: the first
// calib_size documents over the subjects in order); fewer available documents print a warning.
std::vector<std::vector<int32_t>> calibration_sequences(RunContext& ctx, const Task& task,
                                                        const TaskOptions& opt,
                                                        const nlohmann::json& params);

// The key the measurement is cached under in this process: the weights checksum that the harness
// puts in ctx.run_spec[kWeightsChecksumKey], the backend's name and dtype, and a hash of the token
// ids of the calibration sequences (which capture task, split, size, subjects, calibration file,
// tokenizer, BOS policy and truncation). "" when run_spec has no checksum: then nothing is cached,
// because no other property of a backend (its address least of all) says which weights it holds.
inline constexpr const char* kWeightsChecksumKey = "model_weights_checksum";
std::string calibration_cache_key(const RunContext& ctx,
                                  const std::vector<std::vector<int32_t>>& seqs);

// measure_layer_similarity(calibration_sequences(...)), reused within a process for the same
// calibration_cache_key (a sweep over n on one model measures once).
LayerSimilarity cached_layer_similarity(RunContext& ctx, const Task& task, const TaskOptions& opt,
                                        const nlohmann::json& params);

// The n layers with the lowest Block Influence (ties: lower index first), sorted ascending.
std::vector<int> lowest_bi_layers(const std::vector<double>& bi, int n);
// Start l* of the contiguous block [l*, l*+n) with the smallest angular distance d(l, l+n).
int best_angular_block(const LayerSimilarity& s, int n);

}  // namespace eeb
