#!/usr/bin/env bash
# Nightly regression job (docs/REPORTS.md): runs a run spec (default specs/nightly.toml) into one
# history database, writes tonight's report, and compares tonight's run with the last good night's.
#
#   EEBENCH=./build/eebench bash scripts/nightly.sh
#   SPEC=my-nightly.toml DATA=/data/datasets LIMIT=500 bash scripts/nightly.sh
#
# Exit status: 0 no regression (or the first night: it becomes the baseline), 1 regression,
# 2 an eebench run, report or compare failed. A night becomes the baseline only when it is not a
# regression, so a regression keeps failing until it is fixed; ACCEPT=1 makes tonight the baseline anyway.
# Files in $OUT: report-DATE.html / .md, compare-DATE.txt, junit-DATE.xml, baseline (run id).
set -uo pipefail

EEBENCH=${EEBENCH:-./build/eebench}
SPEC=${SPEC:-specs/nightly.toml}
DB=${DB:-results/nightly.db}
OUT=${OUT:-results/nightly}
ACCEPT=${ACCEPT:-0}
# Thresholds (eebench compare --help). Timing needs a quiet, dedicated machine.
COMPARE_ARGS=${COMPARE_ARGS:---max-acc-drop 0.01 --alpha 0.05 --max-slowdown 0.05}
overrides=()
[[ -n "${DATA:-}" ]] && overrides+=(--data "$DATA")
[[ -n "${LIMIT:-}" ]] && overrides+=(--limit "$LIMIT")

die() { echo "nightly: $*" >&2; exit 2; }
mkdir -p "$OUT" "$(dirname "$DB")" || die "cannot create $OUT"
night=$(date -u +%Y-%m-%dT%H%M)

out=$("$EEBENCH" run "$SPEC" --db "$DB" -q "${overrides[@]}") || die "eebench run $SPEC failed"
tonight=$(sed -n 's/^run \([0-9][0-9]*\) finished.*/\1/p' <<<"$out")
[[ -n "$tonight" ]] || die "no run id in the output of eebench run $SPEC"
ids=("$tonight")
echo "nightly: tonight's run $tonight in $DB"

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
