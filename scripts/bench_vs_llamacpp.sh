#!/usr/bin/env bash
# eebench against llama.cpp on the same GGUF files: random-weight models of one shape in several
# weight types (written by `eebench make-model`, skipped when present), then for each file
# `llama-bench` and `eebench bench --model` interleaved (A B A B ..., REPS times each), medians of the
# tokens/s, peak RSS of both, and the ceilings eebench measures beside its run. Writes one Markdown
# table and one JSON file (docs/PERF.md, "eebench against llama.cpp").
#
#   scripts/bench_vs_llamacpp.sh LLAMA_BUILD SHAPE DTYPES [THREADS [REPS [OUTDIR]]]
#
#   LLAMA_BUILD  a llama.cpp build directory with bin/llama-bench (built beside the project, never
#                inside it: docs/PERF.md says how); "-" runs eebench only
#   SHAPE        tinyllama-1.1b | llama-2-7b | dim,hidden,layers,heads,kv_heads,vocab
#   DTYPES       comma-separated: f32,f16,bf16,q8_0
#   THREADS      threads for both programs (default 2)
#   REPS         interleaved samples per program and file (default 9)
#   OUTDIR       results (default bench-vs-llamacpp); raw outputs under OUTDIR/raw
#
# Environment: EEBENCH (the eebench binary; default build/eebench of this checkout), MODELS (where
# the GGUF files go; default OUTDIR/models), EEBENCH_ARGS (extra `eebench bench` options, e.g.
# "--dtype f32"), PREFILL (default 128,512), DECODE (default 128), AGGREGATE_ONLY (1: no runs,
# only the table from the samples already in OUTDIR/raw; a rerun into the same OUTDIR resumes).
set -euo pipefail

usage() { sed -n '8,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $# -ge 3 && $# -le 6 ]] || usage
LLAMA_BUILD=$1 SHAPE=$2 DTYPES=$3 THREADS=${4:-2} REPS=${5:-9} OUTDIR=${6:-bench-vs-llamacpp}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EEBENCH=${EEBENCH:-$ROOT/build/eebench}
MODELS=${MODELS:-$OUTDIR/models}
PREFILL=${PREFILL:-128,512}
DECODE=${DECODE:-128}
EEBENCH_ARGS=${EEBENCH_ARGS:-}

die() { echo "bench_vs_llamacpp: $*" >&2; exit 2; }
[[ -x $EEBENCH ]] || die "no eebench binary at $EEBENCH (build it, or set EEBENCH)"
LLAMA_BENCH=""
if [[ $LLAMA_BUILD != - ]]; then
  LLAMA_BENCH=$LLAMA_BUILD/bin/llama-bench
  [[ -x $LLAMA_BENCH ]] || die "no llama-bench at $LLAMA_BENCH (build llama.cpp's llama-bench target: docs/PERF.md)"
fi
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive integer, not '$THREADS'"
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "REPS must be a positive integer, not '$REPS'"
TIME=/usr/bin/time
[[ -x $TIME ]] || die "needs GNU time at /usr/bin/time for the peak RSS (Debian package 'time')"
command -v python3 >/dev/null || die "needs python3 for the medians and the table"
mkdir -p "$OUTDIR/raw" "$MODELS"

IFS=, read -r -a dtypes <<<"$DTYPES"
for d in "${dtypes[@]}"; do
  case $d in f32|f16|bf16|q8_0) ;; *) die "unknown dtype '$d' (f32, f16, bf16, q8_0)";; esac
done
shape_tag=${SHAPE//,/x}

# A sample already in OUTDIR/raw (a valid JSON output) is kept: an interrupted run resumes where it
# stopped. Use a fresh OUTDIR for a fresh table; AGGREGATE_ONLY=1 only rebuilds the table.
valid_json() { [[ -s $1 ]] && python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null; }
files=()
for d in "${dtypes[@]}"; do
  f=$MODELS/$shape_tag-$d.gguf
  files+=("$f")
  [[ -f $f || -n ${AGGREGATE_ONLY:-} ]] || "$EEBENCH" make-model --shape "$SHAPE" --dtype "$d" --seed 1 --out "$f" >&2
done
if [[ -z ${AGGREGATE_ONLY:-} ]]; then
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  [[ -f $OUTDIR/raw/loadavg_start ]] || cut -d' ' -f1-3 /proc/loadavg >"$OUTDIR/raw/loadavg_start"
  # Rounds outermost (every file once per round, llama.cpp then eebench on each): a machine that gets
  # busier hurts every file and both programs alike, and a stopped run still has whole rounds.
  for ((r = 1; r <= REPS; r++)); do
    for i in "${!dtypes[@]}"; do
      d=${dtypes[$i]} f=${files[$i]}
      tag=$OUTDIR/raw/$shape_tag-$d-$r
      if [[ -n $LLAMA_BENCH ]] && ! valid_json "$tag.llama.json"; then
        echo "[round $r/$REPS, $d] llama-bench" >&2
        # -r 1: one sample per invocation; llama-bench runs its own warm-up of each test first.
        if ! "$TIME" -v -o "$tag.llama.time" "$LLAMA_BENCH" -m "$f" -t "$THREADS" -p "$PREFILL" -n "$DECODE" -r 1 \
             -o json >"$tag.llama.json" 2>"$tag.llama.log"; then
          echo "  llama-bench failed on $f (see $tag.llama.log)" >&2
        fi
      fi
      if ! valid_json "$tag.eebench.json"; then
        echo "[round $r/$REPS, $d] eebench bench" >&2
        # shellcheck disable=SC2086  # EEBENCH_ARGS is a list of options
        if ! "$TIME" -v -o "$tag.eebench.time" "$EEBENCH" bench --model "$f" --prefill "$PREFILL" --decode "$DECODE" \
             --context 0 --threads "$THREADS" --reps 1 $EEBENCH_ARGS --json "$tag.eebench.json" \
             >"$tag.eebench.log" 2>&1; then
          echo "  eebench failed on $f: $(tail -n 1 "$tag.eebench.log")" >&2
        fi
      fi
    done
  done
fi
if [[ -z ${AGGREGATE_ONLY:-} ]]; then
  cut -d' ' -f1-3 /proc/loadavg >"$OUTDIR/raw/loadavg_end"
  echo "load average at end: $(cat "$OUTDIR/raw/loadavg_end")" >&2
fi

python3 - "$OUTDIR" "$MODELS" "$shape_tag" "$SHAPE" "$DTYPES" "$THREADS" "$REPS" "$PREFILL" "$DECODE" \
  "${LLAMA_BENCH:--}" <<'EOF'
import json, os, re, statistics, subprocess, sys

outdir, models, tag, shape, dtypes, threads, reps, prefill, decode, llama_bench = sys.argv[1:]
dtypes, threads, reps = dtypes.split(","), int(threads), int(reps)
prefill, decode = [int(x) for x in prefill.split(",")], int(decode)
raw = os.path.join(outdir, "raw")
GiB = 1024 ** 3

def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

def max_rss(path):  # GNU time -v: "Maximum resident set size (kbytes): N"
    try:
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(path).read())
        return int(m.group(1)) * 1024 if m else None
    except OSError:
        return None

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

rows, llama_info = [], {}
for d in dtypes:
    f = os.path.join(models, f"{tag}-{d}.gguf")
    lc = {f"pp{n}": [] for n in prefill} | {f"tg{decode}": []}
    eb = {f"pp{n}": [] for n in prefill} | {f"tg{decode}": []}
    lc_rss, eb_rss, eb_rss_time, eb_runs = [], [], [], []
    for r in range(1, reps + 1):
        base = os.path.join(raw, f"{tag}-{d}-{r}")
        for t in load(base + ".llama.json") or []:
            key = f"pp{t['n_prompt']}" if t["n_gen"] == 0 else f"tg{t['n_gen']}"
            if key in lc:
                lc[key].append(t["avg_ts"])
            llama_info = {k: t.get(k) for k in ("build_commit", "build_number", "cpu_info", "backends", "n_batch",
                                                "n_ubatch", "type_k", "type_v", "use_mmap", "flash_attn")}
        lc_rss.append(max_rss(base + ".llama.time"))
        j = load(base + ".eebench.json")
        if j:
            eb_runs.append(j)
            for p in j["prefill"]:
                eb[f"pp{p['tokens']}"].append(p["tokens_per_s"])
            eb[f"tg{decode}"].append(j["decode"]["tokens_per_s"])
            eb_rss.append(j["memory"]["peak_rss_bytes"])
        eb_rss_time.append(max_rss(base + ".eebench.time"))
    row = {"dtype": d, "file": f, "file_bytes": os.path.getsize(f) if os.path.exists(f) else None,
           "samples": {"llama.cpp": lc, "eebench": eb},
           "llama.cpp": {k: med(v) for k, v in lc.items()}, "eebench": {k: med(v) for k, v in eb.items()},
           "peak_rss_bytes": {"llama.cpp": med(lc_rss), "eebench": med(eb_rss),
                              "eebench_process_incl_ceilings": med(eb_rss_time)}}
    if eb_runs:
        last = eb_runs[-1]
        row["eebench_held_dtype"] = last["dtype"]
        row["weight_bytes"] = {"stored": last["memory"]["weight_bytes_stored"], "held": last["memory"]["weight_bytes_held"]}
        row["ceilings"] = {
            "read_gbs": med([j["ceilings"]["read_gbs"] for j in eb_runs]),
            "read": last["ceilings"]["read"],
            "decode_weight_bytes_per_token": last["decode"]["weight_bytes_per_token"],
            "decode_share_of_read": med([j["decode"]["share_of_bandwidth"] for j in eb_runs]),
            "prefill": [{"tokens": n,
                         "gemm": next(p["gemm"] for p in last["prefill"] if p["tokens"] == n),
                         "gemm_gflops": 1e3 * med([p["gemm_tflops"] for j in eb_runs for p in j["prefill"] if p["tokens"] == n]),
                         "gemm_f32_gflops": 1e3 * med([p["gemm_f32_tflops"] for j in eb_runs for p in j["prefill"] if p["tokens"] == n]),
                         "share_of_gemm": med([p["share_of_gemm"] for j in eb_runs for p in j["prefill"] if p["tokens"] == n])}
                        for n in prefill]}
        row["machine"] = last["machine"]
        row["eebench_build"] = last["build"]
    rows.append(row)

def loadavg(name):
    try:
        return open(os.path.join(raw, name)).read().split()
    except OSError:
        return ["?"]
load_start, load_end = loadavg("loadavg_start"), loadavg("loadavg_end")
result = {"shape": shape, "threads": threads, "reps": reps, "prefill": prefill, "decode": decode,
          "llama_bench": llama_bench, "llama_cpp": llama_info, "load_average_start": load_start,
          "load_average_end": load_end, "rows": rows}
with open(os.path.join(outdir, "bench_vs_llamacpp.json"), "w") as f:
    json.dump(result, f, indent=2)

def ts(x):
    return "—" if x is None else (f"{x:.0f}" if x >= 100 else f"{x:.3g}")

def pair(row, key):
    a, b = row["llama.cpp"][key], row["eebench"][key]
    ratio = f" ({b / a:.2f}×)" if a and b else ""
    return f"{ts(a)} / {ts(b)}{ratio}"

def gib(x):
    return "—" if x is None else f"{x / GiB:.1f}"

cpu = next((r["machine"]["cpu"] for r in rows if "machine" in r), "?")
lines = [f"Shape {shape}, {threads} threads, medians of up to {reps} interleaved samples per program (n: samples "
         f"llama.cpp / eebench per file; tokens/s: "
         f"llama.cpp / eebench (eebench ÷ llama.cpp)); CPU {cpu}; load average {' '.join(load_start)} at the start, "
         f"{' '.join(load_end)} at the end; llama.cpp {llama_info.get('build_commit', '—')}.", "",
         "| file | " + " | ".join(f"prefill {n}" for n in prefill) + f" | decode {decode} | peak RSS llama.cpp / eebench (GiB) |",
         "|---|" + "---|" * (len(prefill) + 2)]
for r in rows:
    n_lc, n_eb = (len(r["samples"][p][f"tg{decode}"]) for p in ("llama.cpp", "eebench"))
    size = (f" ({r['file_bytes'] / 1e9:.1f} GB)" if r["file_bytes"] else "") + f", n = {n_lc}/{n_eb}"
    cells = [pair(r, f"pp{n}") for n in prefill] + [pair(r, f"tg{decode}")]
    rss = r["peak_rss_bytes"]
    lines.append(f"| {r['dtype'].upper()}{size} | " + " | ".join(cells) + f" | {gib(rss['llama.cpp'])} / {gib(rss['eebench'])} |")
lines += ["", "Ceilings measured by eebench beside its own runs (medians over its samples):", "",
          "| file | eebench holds | read GB/s | decode: weight GB/s ÷ read | " +
          " | ".join(f"GEMM @{n}: GFLOP/s (f32 sgemm), prefill share" for n in prefill) + " |",
          "|---|---|---|---|" + "---|" * len(prefill)]
for r in rows:
    c = r.get("ceilings")
    if not c:
        lines.append(f"| {r['dtype'].upper()} | no eebench sample | | |" + " |" * len(prefill))
        continue
    cells = [f"{p['gemm_gflops']:.0f} ({p['gemm_f32_gflops']:.0f}), {100 * p['share_of_gemm']:.0f}%" for p in c["prefill"]]
    lines.append(f"| {r['dtype'].upper()} | {r['eebench_held_dtype']} | {c['read_gbs']:.1f} | "
                 f"{100 * c['decode_share_of_read']:.0f}% | " + " | ".join(cells) + " |")
gemms = sorted({p["gemm"] for r in rows if r.get("ceilings") for p in r["ceilings"]["prefill"]})
lines += ["", "GEMM ceilings: " + "; ".join(gemms) + "."]
md = "\n".join(lines) + "\n"
with open(os.path.join(outdir, "bench_vs_llamacpp.md"), "w") as f:
    f.write(md)
print(md)
EOF
