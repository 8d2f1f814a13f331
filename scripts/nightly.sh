#!/usr/bin/env bash
# Nightly regression job (docs/REPORTS.md): runs a fixed spec of eebench runs into one database,
# writes tonight's report, and compares tonight's runs with the last good night's.
#
#   EEBENCH=./build/eebench MODEL=path/to/model DATA=path/to/datasets bash scripts/nightly.sh
#
# Exit status: 0 no regression (or the first night: it becomes the baseline), 1 regression,
# 2 an eebench run, report or compare failed. A night becomes the baseline only when it is not a
# regression, so a regression keeps failing until it is fixed; ACCEPT=1 makes tonight the baseline anyway.
# Files in $OUT: report-DATE.html / .md, compare-DATE.txt, junit-DATE.xml, baseline (run ids).
set -uo pipefail

EEBENCH=${EEBENCH:-./build/eebench}
MODEL=${MODEL:-../shared/data/models/sst-lm-12L}
DATA=${DATA:-../shared/data/datasets}
DB=${DB:-results/nightly.db}
OUT=${OUT:-results/nightly}
LIMIT=${LIMIT:-200}
ACCEPT=${ACCEPT:-0}
# Thresholds (eebench compare --help). Timing needs a quiet, dedicated machine.
COMPARE_ARGS=${COMPARE_ARGS:---max-acc-drop 0.01 --alpha 0.05 --max-slowdown 0.05}

# The spec: one eebench run per line, after the common options below. No spaces inside a word.
SPEC=(
  '-t sst2 -s full'
  '-t sst2 -s oracle'
  '-t sst2 -s adainfer'
  '-t sst2 -s shortgpt --sweep n=0:4'
  '-t sst2 -s lesion -p {"op":"delete"} --sweep layer=0:3'
)
if [[ -n "${NIGHTLY_SPEC:-}" ]]; then  # a file with one line per run replaces the spec above
  mapfile -t SPEC < <(grep -v '^[[:space:]]*\(#\|$\)' "$NIGHTLY_SPEC")
fi

die() { echo "nightly: $*" >&2; exit 2; }
mkdir -p "$OUT" "$(dirname "$DB")" || die "cannot create $OUT"
night=$(date -u +%Y-%m-%dT%H%M)

ids=()
for line in "${SPEC[@]}"; do
  read -r -a args <<<"$line"
  out=$("$EEBENCH" run -m "$MODEL" -d "$DATA" --limit "$LIMIT" --db "$DB" -q "${args[@]}") ||
    die "eebench run $line failed"
  id=$(sed -n 's/^run \([0-9][0-9]*\) finished.*/\1/p' <<<"$out")
  [[ -n "$id" ]] || die "no run id in the output of eebench run $line"
  ids+=("$id")
done
tonight=$(IFS=,; echo "${ids[*]}")
echo "nightly: tonight's runs $tonight in $DB"

"$EEBENCH" report "${ids[@]}" --db "$DB" --format html --out "$OUT/report-$night.html" || die "report failed"
"$EEBENCH" report "${ids[@]}" --db "$DB" --format md --out "$OUT/report-$night.md" || die "report failed"

status=0
if [[ -s "$OUT/baseline" ]]; then
  base=$(<"$OUT/baseline")
  # shellcheck disable=SC2086  # COMPARE_ARGS is a list of options
  "$EEBENCH" compare "$base" "$tonight" --db "$DB" $COMPARE_ARGS --junit "$OUT/junit-$night.xml" |
    tee "$OUT/compare-$night.txt"
  status=${PIPESTATUS[0]}
  ((status <= 1)) || die "eebench compare $base $tonight failed"
else
  echo "nightly: no baseline yet: runs $tonight become the baseline"
fi

if ((status == 0)) || [[ "$ACCEPT" == 1 ]]; then
  echo "$tonight" >"$OUT/baseline"
fi
exit "$status"
