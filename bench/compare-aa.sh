#!/usr/bin/env bash
# Benchmark of `compare` itself: are its verdicts to be trusted? Three checks, each with real servers:
#  1. A/A: `compare --a threaded:nio --b threaded:nio`, DEFAULT_RUNS default runs and QUICK_RUNS --quick runs. Both
#     sides are the same server, so every row called different is a false alarm: the share of rows with an interval
#     that excludes 1 is printed (goal: at most 5%, the interval's 95%).
#  2. A known 10%: two copies of bench/DelayServer.java (cmd: sides), A answering after 10 ms and B after 11 ms, so B
#     is 10% slower on every throughput row (about 0.91x) and 10% slower on every latency row (about 1.1x). Printed:
#     each row's ratio, interval and verdict, and whether the difference was found with the right sign.
#  3. Default against --quick: `compare --a simple:pool --b threaded:nio` once each way; the /health throughput ratio
#     at 16 connections of both side by side, and whether each lies within the other's interval (--quick must
#     measure the same warmed-up servers as a default run, only with fewer rounds).
#
#   bench/compare-aa.sh [DEFAULT_RUNS=2] [QUICK_RUNS=3]
#
# About 10 minutes with the defaults on 2 cores. Needs python3 (to read Compare's JSON). Targets 127.0.0.1 only;
# Compare stops every server it started.
set -euo pipefail
cd "$(dirname "$0")/.."
DEFAULT_RUNS=${1:-2}; QUICK_RUNS=${2:-3}
source bench/lib.sh
need python3 python3

compare() { ./jbang Compare.java compare "$@" >"$work/last.out" 2>"$work/last.err" || { echo "Error: compare $* failed:" >&2; tail -20 "$work/last.err" "$work/last.out" >&2; exit 1; }; }

# rows FILE...: per JSON report, its figures with a paired interval: "verdict ratio low high name", one a line.
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

echo "== 1. A/A: threaded:nio against threaded:nio"
for mode in default quick; do
  n=$DEFAULT_RUNS; args=(); [ $mode = quick ] && n=$QUICK_RUNS && args=(--quick)
  files=()
  for i in $(seq 1 "$n"); do
    compare --a threaded:nio --b threaded:nio "${args[@]}" --json "$work/aa-$mode-$i.json"
    files+=("$work/aa-$mode-$i.json")
  done
  rows "${files[@]}" >"$work/aa-$mode.rows"
  total=$(wc -l <"$work/aa-$mode.rows"); different=$(grep -cv '^WITHIN_NOISE' "$work/aa-$mode.rows" || true)
  printf '  %-8s %d runs: %d of %d rows called different (%s%%; goal <= 5%%)\n' "$mode" "$n" "$different" "$total" \
    "$(awk -v d="$different" -v t="$total" 'BEGIN {printf "%.1f", t ? 100 * d / t : 0}')"
  grep -v '^WITHIN_NOISE' "$work/aa-$mode.rows" | awk '{printf "           called different: %s %.2fx (%.2f-%.2f)\n", $5, $2, $3, $4}' || true
done

echo "== 2. A known 10%: DelayServer 10 ms (A) against 11 ms (B), --quick"
compare --a 'cmd:java bench/DelayServer.java {port} 10' --b 'cmd:java bench/DelayServer.java {port} 11' --quick --json "$work/delay.json"
rows "$work/delay.json" | awk '
  $5 ~ /throughput/ {want = "B_LOWER"} $5 ~ /latency/ {want = "B_HIGHER"}
  $5 ~ /throughput|latency/ {n++; ok = ($1 == want); found += ok; wrong += ($1 != want && $1 != "WITHIN_NOISE")
    printf "  %-50s %.2fx (%.2f-%.2f) %-12s %s\n", $5, $2, $3, $4, $1, ok ? "found, right sign" : ($1 == "WITHIN_NOISE" ? "not found" : "WRONG SIGN")}
  END {printf "  found with the right sign on %d of %d throughput and latency rows; wrong sign on %d\n", found, n, wrong}'

echo "== 3. Default against --quick: simple:pool (A) against threaded:nio (B), GET /health c=16 throughput"
compare --a simple:pool --b threaded:nio --json "$work/default.json"
compare --a simple:pool --b threaded:nio --quick --json "$work/quick.json"
python3 - "$work/default.json" "$work/quick.json" <<'EOF'
import json, sys
def fig(f):
    return next(x for x in json.load(open(f))["figures"] if x["figure"] == "GET /health c=16 throughput")
d, q = fig(sys.argv[1]), fig(sys.argv[2])
def show(name, x):
    ci = x.get("ratio_interval") or [float("nan")] * 2
    print(f"  {name:8} B/A {x['ratio']:.2f}x ({ci[0]:.2f}-{ci[1]:.2f}), {x['verdict']}")
show("default", d); show("quick", q)
def within(x, ci): return ci is not None and ci[0] <= x <= ci[1]
print(f"  default's ratio within --quick's interval: {within(d['ratio'], q.get('ratio_interval'))}; "
      f"--quick's within default's: {within(q['ratio'], d.get('ratio_interval'))}")
EOF
echo "Machine: $(nproc) cores, $(uname -sr), JDK $(jdk_version), $(date -u '+%Y-%m-%d %H:%M UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
