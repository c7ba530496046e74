#!/usr/bin/env bash
# Benchmark of `compare` itself: issue 23's acceptance, each figure printed beside its target.
#  1. A/A: `compare --a threaded:nio --b threaded:nio`, QUICK_RUNS --quick runs and DEFAULT_RUNS default runs. Both
#     sides are the same server, so every row called different is a false call. Pooled over each set: rows called
#     different of rows with an interval, and the binomial P(X >= that | 5%) (target: >= 0.05, i.e. consistent with a
#     95% interval). Also printed: each run's between-fork and within-fork spread of the throughput rows.
#  2. A known 10%: two copies of bench/DelayServer.java (cmd: sides), A answering after 10 ms and B after 11 ms, so B's
#     throughput is about 0.91x A's on every row. Target: B found lower on every throughput row, with and without --quick.
#  3. Time: every run above is timed (wall clock, JBang's first compile excluded: `./jbang build` runs first).
#     Target: --quick at most 60 s, the default at most 180 s.
#  4. tests/CompareStatsTest.java's simulated rates: A/A near 5%, a true 10% found in >= 80% by default.
#
#   bench/compare-aa.sh [QUICK_RUNS=5] [DEFAULT_RUNS=3]
#
# Bounded: at most (QUICK_RUNS + 1) x 60 s + (DEFAULT_RUNS + 1) x 180 s of comparisons when the time targets hold
# (about 20 minutes with the defaults), each run stopped by `timeout` at twice its target. Needs python3 (to read
# Compare's JSON). Targets 127.0.0.1 only; Compare stops every server it started. Run it on a quiet machine: the
# figures are the method's only when nothing else competes for the cores (the load average is printed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK_RUNS=${1:-5}; DEFAULT_RUNS=${2:-3}
source bench/lib.sh
need python3 python3

# compare LIMIT_S JSON ARGS...: one comparison, its wall-clock seconds appended to $work/times.
compare() {
  local limit=$1 json=$2; shift 2
  local t0 t1 rc=0
  t0=$(date +%s.%N)
  timeout "$((2 * limit))" ./jbang Compare.java compare "$@" --json "$json" >"$work/last.out" 2>"$work/last.err" || rc=$?
  t1=$(date +%s.%N)
  # exit 0: done; anything else is a failed run, shown and fatal (a run over twice its target is one).
  [ $rc = 0 ] || { echo "Error: compare $* exited $rc:" >&2; tail -20 "$work/last.err" "$work/last.out" >&2; exit 1; }
  awk -v a="$t0" -v b="$t1" -v l="$limit" -v w="$*" 'BEGIN {printf "%.1f %d %s\n", b - a, l, w}' >>"$work/times"
}

# rows FILE...: per JSON report, its figures with an interval: "verdict ratio low high name", one a line.
rows() {
  python3 - "$@" <<'EOF'
import json, sys
for f in sys.argv[1:]:
    for fig in json.load(open(f))["figures"]:
        ci = fig.get("ratio_interval")
        if fig.get("verdict") in ("B_HIGHER", "B_LOWER", "WITHIN_NOISE") and ci:
            print(fig["verdict"], fig["ratio"], ci[0], ci[1], fig["figure"].replace(" ", "_"))
EOF
}

# spread FILE: the run's forks, and the between-fork and within-fork sd of ln(B/A) on its throughput rows.
spread() {
  python3 - "$1" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
for fig in j["figures"]:
    if fig["figure"].endswith("throughput") and fig.get("forks"):
        fo = fig["forks"]
        b, w = fo.get("between_fork_sd"), fo.get("within_fork_sd")
        print(f"           {fig['figure']:34} forks {fo['count']}, sd of ln(B/A) between forks {b if b is None else round(b, 4)}, "
              f"within a fork {w if w is None else round(w, 4)}")
EOF
}

# binomial N K: P(X >= K) for X ~ Binomial(N, 0.05).
binomial() { python3 -c "import math,sys; n,k=int(sys.argv[1]),int(sys.argv[2]); print(f'{sum(math.comb(n,i)*0.05**i*0.95**(n-i) for i in range(k,n+1)):.3f}')" "$1" "$2"; }

echo "== 0. JBang's first compile (not timed)"
./jbang build Compare.java >/dev/null
./jbang build ThreadedHttpServer.java >/dev/null
./jbang build bench/DelayServer.java >/dev/null

echo "== 1. A/A: threaded:nio against threaded:nio"
for mode in quick default; do
  n=$DEFAULT_RUNS; limit=180; args=(); [ $mode = quick ] && n=$QUICK_RUNS && limit=60 && args=(--quick)
  files=()
  for i in $(seq 1 "$n"); do
    compare $limit "$work/aa-$mode-$i.json" --a threaded:nio --b threaded:nio "${args[@]}"
    files+=("$work/aa-$mode-$i.json")
    echo "  $mode run $i: $(tail -1 "$work/times" | cut -d' ' -f1) s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    spread "$work/aa-$mode-$i.json"
  done
  rows "${files[@]}" >"$work/aa-$mode.rows"
  total=$(wc -l <"$work/aa-$mode.rows"); different=$(grep -cv '^WITHIN_NOISE' "$work/aa-$mode.rows" || true)
  printf '  %-8s %d runs: %d of %d rows called different (%s%%); P(X >= %d | 5%%) = %s (target: >= 0.05)\n' "$mode" "$n" \
    "$different" "$total" "$(awk -v d="$different" -v t="$total" 'BEGIN {printf "%.1f", t ? 100 * d / t : 0}')" \
    "$different" "$(binomial "$total" "$different")"
  grep -v '^WITHIN_NOISE' "$work/aa-$mode.rows" | awk '{printf "           called different: %s %.3fx (%.3f-%.3f)\n", $5, $2, $3, $4}' || true
done

echo "== 2. A known 10%: DelayServer 10 ms (A) against 11 ms (B); target: B lower on every throughput row"
for mode in quick default; do
  limit=180; args=(); [ $mode = quick ] && limit=60 && args=(--quick)
  compare $limit "$work/delay-$mode.json" --a 'cmd:java bench/DelayServer.java {port} 10' --b 'cmd:java bench/DelayServer.java {port} 11' "${args[@]}"
  rows "$work/delay-$mode.json" | awk -v mode="$mode" '
    $5 ~ /throughput/ {n++; ok = ($1 == "B_LOWER"); found += ok; wrong += ($1 == "B_HIGHER")
      printf "  %-8s %-40s %.3fx (%.3f-%.3f) %-12s %s\n", mode, $5, $2, $3, $4, $1, ok ? "found, right sign" : ($1 == "WITHIN_NOISE" ? "NOT FOUND" : "WRONG SIGN")}
    END {printf "  %-8s found with the right sign on %d of %d throughput rows (target: all); wrong sign on %d\n", mode, found, n, wrong}'
done

echo "== 3. Time per run (wall clock; target: --quick <= 60 s, default <= 180 s)"
awk '{over = $1 > $2; bad += over; printf "  %6.1f s (target <= %d s)%s  %s\n", $1, $2, over ? " OVER" : "", substr($0, index($0, $3))}
     END {printf "  %d of %d runs over their target\n", bad, NR}' "$work/times"

echo "== 4. tests/CompareStatsTest.java (simulated; targets: A/A near 5%, 10% found >= 80% by default)"
tests/run CompareStats 2>&1 | grep -E '^  (A/A|10%)|passed' || true

echo "Machine: $(nproc) cores, $(uname -sr), JDK $(jdk_version), $(date -u '+%Y-%m-%d %H:%M UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
