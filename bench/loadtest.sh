#!/usr/bin/env bash
# Benchmark: is LoadTest ever the bottleneck? Against one nginx (1 worker process, a small JSON at /health, as in
# bench/threaded-http-server.sh), with the same CONNECTIONS keep-alive connections for every tool, in the same run:
# LoadTest in both modes (nio: one event-loop thread like wrk -t1; virtual: a virtual thread per connection),
# wrk -t1, hey and ab -k. The tools take turns RUNS times (interleaved, so a change in the machine's load hits them
# all alike); the table shows each tool's median requests/s, p50 and p99, and the ratios to wrk's medians.
# Targets, each judged in the run that measures it: at CONNECTIONS (both tools saturated) LoadTest nio's requests/s
# >= 0.9x wrk's; at 1 and 10 connections, where neither tool fills its core, LoadTest nio's p50 within 10% of wrk's
# (0.9x to 1.1x).
#
#   bench/loadtest.sh [SECONDS=5] [RUNS=3] [CONNECTIONS=50]
#
# The "cycle" column is mean latency x requests/s / connections: the share of each connection's time that the
# tool's latency covers. In a closed loop every connection is always either waiting for an answer or waiting for the
# tool to send its next request, so 1.00 means the latency covers the whole cycle (Little's law) and 0.50 means half
# of each connection's time was spent in the tool before the write, where no clock runs. At CONNECTIONS=50 both
# tools fill their one core, and wrk's loop settles into either of two orders (its p50 about 0.3 ms or 0.7 ms here,
# cycle 0.5 or 1.0): a p50 there compares the tools' loops as much as their clocks. So two more tables compare the
# p50 over 1 and 10 connections, where nothing queues in either tool and the figure is the round trip itself.
# wrk corrects its closed-loop histogram for coordinated omission at the end of a run: every latency longer than
# twice the mean cycle gets synthetic samples at one-cycle steps below it. On a quiet machine that adds almost
# nothing; when the machine stalls the tool (other processes on its core), the added samples lift wrk's p50 and
# push its cycle above 1, which no measured closed loop can reach. LoadTest's closed loop records only what it
# measured. So a p50 verdict is only worth reading when wrk's cycle is at most 1; the line says when it is not.
#
# With 2 or more cores, nginx is pinned to CPU 0 and every load generator to CPU 1 (taskset), so each tool gets the
# same single core and the server the other. LoadTest runs with --warmup 2s (its JIT compiles the hot path first;
# nginx and the C tools need none). ab reports whole milliseconds only. Installs wrk, hey, apache2-utils (ab) and
# nginx-light (Debian packages) when missing. Targets 127.0.0.1 only; stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-5}; RUNS=${2:-3}; CONNECTIONS=${3:-50}

source bench/lib.sh
need wrk wrk
need hey hey
need ab apache2-utils
need python3 python3

if [ "$(nproc)" -ge 2 ]; then SERVER_CPU=(taskset -c 0); CLIENT_CPU=(taskset -c 1); pinned="nginx on CPU 0, each tool on CPU 1"
else SERVER_CPU=(); CLIENT_CPU=(); pinned="not pinned (1 core)"; fi

start_nginx "${SERVER_CPU[@]}"
URL="http://127.0.0.1:$NGINX_PORT/health"

# Compile LoadTest once, outside the measured runs.
./jbang LoadTest.java --help >/dev/null

# ms VALUE: wrk's "1.23ms" / "812.00us" / "1.01s" in milliseconds.
ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v+0 }
                              else if (v ~ /s$/) { sub(/s$/,"",v); print v*1000 } else print v }'; }

# Each run_TOOL CONNECTIONS prints "requests_per_second p50_ms p99_ms mean_ms".
run_wrk() {
  "${CLIENT_CPU[@]}" wrk -t1 -c"$1" -d"${SECONDS_PER_RUN}s" --latency "$URL" >"$work/wrk.out"
  local rps p50 p99 mean
  rps=$(awk '/Requests\/sec:/ {print $2}' "$work/wrk.out")
  p50=$(ms "$(awk '$1=="50%" {print $2}' "$work/wrk.out")"); p99=$(ms "$(awk '$1=="99%" {print $2}' "$work/wrk.out")")
  mean=$(ms "$(awk '$1=="Latency" {print $2; exit}' "$work/wrk.out")")
  grep -E 'Non-2xx|Socket errors' "$work/wrk.out" >&2 || true
  echo "$rps $p50 $p99 $mean"
}
run_loadtest() {
  "${CLIENT_CPU[@]}" ./jbang LoadTest.java -q --json -m "$1" -c "$2" -d "${SECONDS_PER_RUN}s" --warmup 2s "$URL" >"$work/lt.json"
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); e=sum(r["errors"].values())
if e: print("[bench] LoadTest errors:", r["errors"], file=sys.stderr)
if r["generator_saturated"]: print("[bench] LoadTest says: generator saturated", file=sys.stderr)
l=r["latency_ms"]; print(r["rps"], l["p50"], l["p99"], l["mean"])' "$work/lt.json"
}
run_hey() {
  "${CLIENT_CPU[@]}" hey -z "${SECONDS_PER_RUN}s" -c "$1" "$URL" >"$work/hey.out"
  awk '/Requests\/sec:/ {rps=$2} /Average:/ && !mean {mean=$2*1000} $1=="50%" {p50=$3*1000} $1=="99%" {p99=$3*1000}
       END {print rps, p50, p99, mean}' "$work/hey.out"
}
run_ab() {   # no mean: ab's are whole milliseconds ("-")
  "${CLIENT_CPU[@]}" ab -q -k -c "$1" -t "$SECONDS_PER_RUN" -n 100000000 "$URL" >"$work/ab.out" 2>&1
  awk '/Requests per second:/ {rps=$4} $1=="50%" {p50=$2} $1=="99%" {p99=$2} END {print rps, p50, p99, "-"}' "$work/ab.out"
}

run_tool() {   # TOOL CONNECTIONS
  case "$1" in
    wrk) run_wrk "$2" ;; loadtest-nio) run_loadtest nio "$2" ;; loadtest-virtual) run_loadtest virtual "$2" ;;
    hey) run_hey "$2" ;; ab) run_ab "$2" ;;
  esac
}

# cycle MEAN_MS REQUESTS_PER_SECOND CONNECTIONS: the share of each connection's time its latency covers ("-" without a mean).
cycle() { awk -v m="$1" -v x="$2" -v c="$3" 'BEGIN {if (m ~ /^[0-9.]+$/) printf "%.2f", m / 1000 * x / c; else print "-"}'; }
# col FILE N: the median of column N of FILE.
col() { cut -d' ' -f"$2" "$1" | median; }

# table CONNECTIONS TOOL...: RUNS interleaved turns of the tools, then their medians and the ratios to wrk's.
table() {
  local c=$1; shift
  local t r f rps p50 p99 mean wrk_rps wrk_p50 lt_rps lt_p50 runs
  for t in "$@"; do : >"$work/$t.$c"; done
  for r in $(seq 1 "$RUNS"); do
    for t in "$@"; do run_tool "$t" "$c" >>"$work/$t.$c"; done
  done
  wrk_rps=$(col "$work/wrk.$c" 1); wrk_p50=$(col "$work/wrk.$c" 2)
  printf '%-17s %10s %9s %9s %6s | %8s %8s\n' "c=$c" req/s p50_ms p99_ms cycle rps/wrk p50/wrk
  for t in "$@"; do
    f="$work/$t.$c"
    rps=$(col "$f" 1); p50=$(col "$f" 2); p99=$(col "$f" 3); mean=$(col "$f" 4)
    [ "$t" = loadtest-nio ] && { lt_rps=$rps; lt_p50=$p50; }
    printf '%-17s %10.0f %9.3f %9.3f %6s | %8.2f %8.2f\n' "$t" "$rps" "$p50" "$p99" "$(cycle "$mean" "$rps" "$c")" \
      "$(awk -v a="$rps" -v b="$wrk_rps" 'BEGIN {print a / b}')" "$(awk -v a="$p50" -v b="$wrk_p50" 'BEGIN {print (b > 0 ? a / b : 0)}')"
  done
  for t in wrk loadtest-nio; do
    runs=""
    while read -r rps p50 p99 mean; do runs+="${runs:+, }$(printf '%.3f' "$p50")/$(cycle "$mean" "$rps" "$c")"; done <"$work/$t.$c"
    echo "  $t p50 (ms) and cycle, run by run: $runs"
  done
  # The target for LoadTest nio at this count: requests/s when both tools are saturated, p50 when neither is.
  if [ "$c" -ge "$CONNECTIONS" ]; then
    awk -v c="$c" -v r="$lt_rps" -v wr="$wrk_rps" 'BEGIN {
      printf "  target at c=%s: req/s %.2fx wrk (>= 0.9x: %s)\n", c, r / wr, (r / wr >= 0.9 ? "met" : "NOT met") }'
  else
    awk -v c="$c" -v p="$lt_p50" -v wp="$wrk_p50" -v wc="$(cycle "$(col "$work/wrk.$c" 4)" "$wrk_rps" "$c")" 'BEGIN {
      printf "  target at c=%s: p50 %.2fx wrk (within 10%%, 0.9x to 1.1x: %s)\n", c, p / wp, (p / wp >= 0.9 && p / wp <= 1.1 ? "met" : "NOT met")
      if (wc > 1.05) printf "  (wrk cycle %s > 1: its histogram holds samples it added for stalls, so this p50 is not a round trip)\n", wc }'
  fi
}

echo "# $(nproc) cores, $(uname -sr), JDK $(jdk_version), $(nginx_version), $pinned"
echo "# ${SECONDS_PER_RUN}s per run, median of $RUNS interleaved runs, keep-alive; GET $URL"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
wrk -t1 -c"$CONNECTIONS" -d1s "$URL" >/dev/null   # nginx warm-up
table "$CONNECTIONS" wrk loadtest-nio loadtest-virtual hey ab
table 1 wrk loadtest-nio
table 10 wrk loadtest-nio
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
