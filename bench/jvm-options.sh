#!/usr/bin/env bash
# Benchmark: what -XX:CompileThresholdScaling in a server's //JAVA_OPTIONS costs and buys. The same server (default
# ThreadedHttpServer -m nio) is started fresh, RUNS times per variant, the variants taking turns: as its header says
# (whatever CompileThresholdScaling it holds), and with -XX:CompileThresholdScaling=10 or =1 placed after the
# header's options (the later one wins), so both the slow-JIT and the default-JIT variant are measured whatever the
# header holds. Per start: idle RSS one second after the ready line; then WINDOWS back-to-back wrk windows of one
# second at CONNECTIONS connections on /health. Steady throughput is the median of the last 10 windows; the time to
# 95% is from the ready line to the end of the first window at 95% of that or more. The table shows medians over
# the runs. A JIT that waits longer (CompileThresholdScaling=10: ten times the invocation counts before compiling)
# reaches its steady state later; the table shows how much later and whether anything is gained for it.
#
#   bench/jvm-options.sh [RUNS=3] [WINDOWS=30] [CONNECTIONS=16] [SCRIPT=ThreadedHttpServer.java] [ARGS='-m nio']
#
# Timings on a shared machine are noisy: compare the variants within one run of this script, never across runs.
# Installs wrk (Debian package) when missing. Targets 127.0.0.1 only; stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}; WINDOWS=${2:-30}; CONNECTIONS=${3:-16}; SCRIPT=${4:-ThreadedHttpServer.java}; ARGS=${5:--m nio}
[ "$WINDOWS" -ge 12 ] || { echo "Error: WINDOWS must be at least 12 (the steady state is the median of the last 10): $WINDOWS" >&2; exit 2; }

source bench/lib.sh
need wrk wrk

# The java command the launcher runs for the server (the header's //JAVA_OPTIONS included), split where the
# classpath begins: JVM options inserted there come after the header's and win.
# shellcheck disable=SC2086
eval "command=($(JBANG_LAUNCHER_PRINT=1 ./jbang "$SCRIPT" $ARGS -q -p 0))"
for i in "${!command[@]}"; do [ "${command[$i]}" = -classpath ] && split=$i && break; done
head_options=("${command[@]:0:$split}"); rest=("${command[@]:$split}")
header=$(grep -m1 '^//JAVA_OPTIONS' "$SCRIPT" | sed 's|^//JAVA_OPTIONS ||')

variants=("header" "-XX:CompileThresholdScaling=10" "-XX:CompileThresholdScaling=1")
declare -A t95 rps rss

# run VARIANT: one fresh server; appends "seconds-to-95% steady-rps idle-rss-MB" to the variant's lists.
run() {
  local v=$1 extra=()
  [ "$v" = header ] || extra=("$v")
  start server "${head_options[@]}" "${extra[@]}" "${rest[@]}"
  local t0 now w r series=() times=()
  t0=$(date +%s.%N)
  sleep 1
  local mb; mb=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$PID/status")
  for w in $(seq 1 "$WINDOWS"); do
    r=$(wrk -t1 -c"$CONNECTIONS" -d1s "http://127.0.0.1:$PORT/health" | awk '/Requests\/sec:/ {printf "%.0f", $2}')
    now=$(date +%s.%N)
    series+=("${r:-0}"); times+=("$(awk -v a="$now" -v b="$t0" 'BEGIN {printf "%.1f", a - b}')")
  done
  stop "$PID"
  local steady first=""
  steady=$(printf '%s\n' "${series[@]: -10}" | median)
  for w in "${!series[@]}"; do
    awk -v r="${series[$w]}" -v s="$steady" 'BEGIN {exit !(r >= 0.95 * s)}' && { first=${times[$w]}; break; }
  done
  printf '  %-32s run %d: 95%% after %5s s, steady %7.0f req/s, idle RSS %5s MB; windows: %s\n' "$v" "$2" "$first" "$steady" "$mb" "${series[*]}"
  t95[$v]+="$first "; rps[$v]+="$steady "; rss[$v]+="$mb "
}

echo "JVM options of $SCRIPT $ARGS: header has: $header"
echo "Each variant places its option after the header's; $RUNS fresh starts each, $WINDOWS wrk windows of 1 s at $CONNECTIONS connections on /health"
for k in $(seq 1 "$RUNS"); do
  if [ $((k % 2)) = 1 ]; then order=("${variants[@]}"); else order=(); for ((i = ${#variants[@]} - 1; i >= 0; i--)); do order+=("${variants[$i]}"); done; fi
  for v in "${order[@]}"; do run "$v" "$k"; done
done
echo
printf '%-32s %16s %18s %14s\n' "variant (after the header's)" "time to 95% (s)" "steady (req/s)" "idle RSS (MB)"
for v in "${variants[@]}"; do
  printf '%-32s %16s %18.0f %14s\n' "$v" "$(tr ' ' '\n' <<<"${t95[$v]}" | grep . | median)" "$(tr ' ' '\n' <<<"${rps[$v]}" | grep . | median)" \
    "$(tr ' ' '\n' <<<"${rss[$v]}" | grep . | median)"
done
echo "Machine: $(nproc) cores, $(uname -sr), JDK $(jdk_version 2>/dev/null || echo "${command[0]}"), $(date -u '+%Y-%m-%d %H:%M UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
