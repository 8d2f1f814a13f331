#!/usr/bin/env bash
# Benchmark (not a test) of the prefix KV cache, issue 14: MMLU 5-shot on sst-lm-12L-2k, one strategy
# (default full), documents/s with vs without the prefix cache. The two modes are measured side by
# side: per subject, one run of each, the order alternating over subjects, so load drift on a shared
# machine hits both alike. documents/s = documents / (per-document times + prefix times), from the
# trials' metrics (time_strategy_s, prefix_seconds).
#   scripts/bench_prefix_cache.sh [EEBENCH] [SUBJECTS (comma-separated, default: all)] [LIMIT] [STRATEGY]
# EEB_MODEL=PATH another model (with EEB_RUN_FLAGS="--tokenizer FILE" for a random-weight GGUF).
# EEB_THREADS=n sets --threads (default 0: all cores). EEB_BATCH=N adds a third mode beside the two:
# the prefix cache with --batch-docs N (several documents' suffixes per forward pass).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build/eebench}
subjects=${2:-}
limit=${3:-20}
strategy=${4:-full}
data=${EEBENCH_TEST_DATA:-$here/../shared/data}
model=${EEB_MODEL:-$data/models/sst-lm-12L-2k}
out=$(mktemp -d)
if [ -z "$subjects" ]; then
  subjects=$(ls "$data/datasets/mmlu/test" | sed 's/_test\.csv$//' | paste -sd, -)
fi
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
i=0
for s in ${subjects//,/ }; do
  modes="prefix-cache no-prefix-cache"
  [ -n "${EEB_BATCH:-}" ] && modes="$modes batched"
  [ $((i % 2)) -eq 1 ] && modes=$(echo $modes | tr ' ' '\n' | tac | paste -sd' ')
  for m in $modes; do
    flags="--$m"
    [ "$m" = batched ] && flags="--prefix-cache --batch-docs $EEB_BATCH"
    "$bin" run -q -m "$model" -t mmlu -d "$data/datasets" --subjects "$s" --shots 5 --limit "$limit" \
      -s "$strategy" --reps 1 --warmup 1 --threads "${EEB_THREADS:-0}" --db "$out/$m.db" $flags \
      ${EEB_RUN_FLAGS:-} >/dev/null
  done
  i=$((i + 1))
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
for m in prefix-cache no-prefix-cache ${EEB_BATCH:+batched}; do
  sqlite3 "$out/$m.db" "SELECT '$m', SUM(CASE WHEN name='time_strategy_s' THEN value END),
      COALESCE(SUM(CASE WHEN name='prefix_seconds' THEN value END), 0),
      SUM(CASE WHEN name='time_strategy_s' THEN n END),
      SUM(CASE WHEN name='prefix_tokens' THEN value END) FROM metrics WHERE grp=''" |
    awk -F'|' '{printf "%-16s docs %5d  per-doc %8.2f s  prefixes %7.2f s (%s tokens)  docs/s %.3f\n", $1, $4, $2, $3, $5, $4 / ($2 + $3)}'
done
echo "databases: $out"
