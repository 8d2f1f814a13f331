#!/usr/bin/env bash
# The real-Slurm test of `eebench run --slurm` (docs/SPECS.md, "Running on a cluster"): a one-node
# cluster on this machine (munged, slurmctld and slurmd started here as this script's own processes,
# state under a temporary folder, no cgroups), a real spec submitted as a job array, merged, and
# compared with a single-machine run of the same spec: the same predictions, log-likelihoods and
# (untimed) metrics per trial. Then sbatch refusing a job (a bad partition) is one line and changes
# nothing. Stops what it started. Exit 77 (ctest SKIP_RETURN_CODE) where Slurm cannot run here.
#   tests/slurm/run_slurm_test.sh EEBENCH_BINARY [SHARED_DATA]
set -euo pipefail

EEBENCH=$(readlink -f "${1:?usage: run_slurm_test.sh EEBENCH_BINARY [SHARED_DATA]}")
DATA=${2:-${EEBENCH_TEST_DATA:-$(dirname "$0")/../../../shared/data}}
skip() { echo "SKIPPED: $*"; exit 77; }
[ -d "$DATA/models/sst-lm-12L" ] && [ -d "$DATA/datasets/sst2" ] || skip "shared test data not found at $DATA"
DATA=$(readlink -f "$DATA")
[ "$(id -u)" = 0 ] || skip "slurmd runs jobs as root only (run as root, e.g. in CI's container)"
for p in munged slurmctld slurmd sbatch squeue sinfo sqlite3; do
  command -v "$p" >/dev/null || skip "$p not installed (scripts/install-deps.sh installs slurm-wlm and munge)"
done

T=$(mktemp -d /tmp/eeb_slurm.XXXXXX)
PIDS=()
cleanup() {
  set +e
  [ -n "${JOB:-}" ] && scancel "$JOB" 2>/dev/null
  for ((k = ${#PIDS[@]} - 1; k >= 0; k--)); do kill "${PIDS[k]}" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  rm -rf "$T"
}
trap cleanup EXIT
logs() { for f in "$T"/*.log; do echo "== $f"; tail -n 15 "$f"; done; }

# munge with a key made for this test.
mkdir -p "$T/munge"
chmod 700 "$T/munge"
head -c 1024 /dev/urandom > "$T/munge/munge.key"
chmod 400 "$T/munge/munge.key"
SOCK="$T/munge/munge.socket"
munged -F -f --key-file="$T/munge/munge.key" --socket="$SOCK" --pid-file="$T/munge/munged.pid" \
  --seed-file="$T/munge/munged.seed" --log-file="$T/munged.log" 2>> "$T/munged.log" &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { logs; skip "munged did not start"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HOST=$(hostname -s)
CPUS=$(nproc)
mkdir -p "$T/state" "$T/spool"
export SLURM_CONF="$T/slurm.conf"
cat > "$SLURM_CONF" <<EOF
ClusterName=eebtest
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=$(id -un)
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCK
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -D -c -f "$SLURM_CONF" >> "$T/slurmctld.log" 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" >> "$T/slurmd.log" 2>&1 &
PIDS+=($!)
up=""
for _ in $(seq 60); do
  state=$(sinfo -h -n "$HOST" -o %T 2>/dev/null || true)
  [ "$state" = "idle" ] && { up=1; break; }
  for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null || { logs; skip "a Slurm daemon exited at start (container without the privileges slurmd needs?)"; }; done
  sleep 0.5
done
[ -n "$up" ] || { logs; skip "slurmctld/slurmd did not bring node $HOST up (state '${state:-}')"; }
echo "slurm: one node $HOST, $CPUS CPUs"

# The spec: shortgpt removing n = 0..3 layers on SST-2, one array task per trial.
cat > "$T/spec.toml" <<EOF
[run]
reps = 1
warmup = 0
threads = 1
data = "$DATA/datasets"
[[model]]
path = "$DATA/models/sst-lm-12L"
[[task]]
name = "sst2"
[[strategy]]
name = "shortgpt"
sweep = { n = "0:3" }
EOF
cd "$T"
fail() { echo "FAIL: $*"; logs; for f in "$T"/slurm.db.shard-*.log; do echo "== $f"; cat "$f"; done; exit 1; }
submit() {
  out=$("$EEBENCH" "$@")
  echo "$out"
  JOB=$(echo "$out" | sed -n 's/^submitted run [0-9]* as Slurm job \([0-9]*\).*/\1/p')
  [ -n "$JOB" ] || fail "no job id in the output"
}
wait_job() {
  for _ in $(seq 600); do
    [ -z "$(squeue -h -j "$JOB" 2>/dev/null)" ] && return 0
    sleep 1
  done
  fail "job $JOB still queued after 10 minutes"
}
# One task at a time, and the last one cancelled before it starts: a lost array task to resume.
submit run spec.toml --limit 20 --db "$T/slurm.db" --slurm --time 00:20:00 --max-parallel 1
JOB_ID=$JOB
scancel "${JOB}_3"

# The single-machine run of the same spec meanwhile (the node has $CPUS CPUs; each task uses 1).
"$EEBENCH" run spec.toml --limit 20 --db "$T/single.db" -q

wait_job
"$EEBENCH" status 1 --db "$T/slurm.db"
merged=$("$EEBENCH" merge --db "$T/slurm.db")
echo "$merged"
[[ "$merged" == *"run 1: 3 of 4 planned trials finished, 0 failed, 1 unfinished"* ]] || fail "expected shard 3 unfinished"
submit run --resume 1 --db "$T/slurm.db" --slurm --time 00:20:00
grep -q '^#SBATCH --array=3$' "$T/slurm.db.run-1.sbatch" || fail "resume should resubmit shard 3 only"
RESUME_JOB=$JOB
wait_job
"$EEBENCH" merge --db "$T/slurm.db"
JOB=""
q() { sqlite3 "$1" "$2"; }
SAMPLES="SELECT g.name, g.params, g.resolved, t.status, x.doc_index, x.doc_id, x.gold, x.pred, x.pred_norm, x.loglik,
  x.layers_executed FROM samples x JOIN trials t ON t.id = x.trial_id JOIN strategies g ON g.id = t.strategy_id
  ORDER BY g.name, g.params, x.doc_index"
METRICS="SELECT g.name, g.params, x.name, x.grp, x.value, x.stderr, x.n FROM metrics x JOIN trials t ON t.id = x.trial_id
  JOIN strategies g ON g.id = t.strategy_id WHERE x.name <> 'model_seconds' AND json_extract(x.detail, '$.timed') IS NULL
  ORDER BY g.name, g.params, x.name, x.grp"
n=$(q "$T/slurm.db" "SELECT count(*) FROM samples")
[ "$n" = 80 ] || fail "merged database has $n samples, expected 4 trials x 20"
[ "$(q "$T/slurm.db" "$SAMPLES")" = "$(q "$T/single.db" "$SAMPLES")" ] || fail "predictions differ from the single run"
[ "$(q "$T/slurm.db" "$METRICS")" = "$(q "$T/single.db" "$METRICS")" ] || fail "metrics differ from the single run"
[ "$(q "$T/slurm.db" "SELECT status FROM runs")" = finished ] || fail "merged run is not finished"
[ "$(q "$T/slurm.db" "SELECT count(*) FROM run_nodes WHERE slurm_job LIKE '${JOB_ID}_%'")" = 3 ] &&
  [ "$(q "$T/slurm.db" "SELECT slurm_job FROM run_nodes WHERE shard = 3")" = "${RESUME_JOB}_3" ] ||
  fail "expected one run_nodes row per array task, naming its Slurm job"

# sbatch refusing the job: one line, non-zero, the merged database unchanged.
before=$(sqlite3 "$T/slurm.db" .dump | md5sum)
set +e
err=$("$EEBENCH" run spec.toml --limit 20 --db "$T/other.db" --slurm --partition no-such-partition 2>&1)
rc=$?
set -e
echo "$err"
[ "$rc" = 2 ] && [ "$(echo "$err" | wc -l)" = 1 ] && [[ "$err" == *"sbatch refused the job"* ]] ||
  fail "a bad partition should be one line and exit 2 (exit $rc)"
[ "$(sqlite3 "$T/slurm.db" .dump | md5sum)" = "$before" ] || fail "the merged database changed"
echo "PASS: Slurm array of 4 shards (one cancelled, resumed) merged equals the single-machine run"
