#!/usr/bin/env bash
# Benchmark: SimpleHttpServer's GET /health in each mode against a bare com.sun.net.httpserver handler
# (bench/BareHttpServer.java: same JDK, same executor, same TCP_NODELAY) measured in the same run.
# wrk keeps 50 connections alive from one thread (closed loop: each connection sends its next request when the
# previous answer arrives). Both servers run at once and are measured alternately, RUNS times each; the table
# shows the median requests/s and p99 latency, and SimpleHttpServer's throughput as a ratio of the bare one.
# It also shows the server's own CPU time per request (from /proc/PID/stat): on a shared 2-core machine, where
# the load generator and other processes compete for the cores, that figure moves much less than requests/s.
#
#   bench/simple-http-server.sh [SECONDS=10] [RUNS=3] [CONNECTIONS=50]
#
# Installs wrk (Debian package) when missing. Targets 127.0.0.1 only; stops every server it started.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-10}; RUNS=${2:-3}; CONNECTIONS=${3:-50}
MODES=(single pool virtual)

source bench/lib.sh
need wrk wrk

echo "# $(nproc) cores, $(uname -sr), JDK $(jdk_version)"
echo "# wrk -t1 -c$CONNECTIONS -d${SECONDS_PER_RUN}s --latency http://127.0.0.1:PORT/health, median of $RUNS runs, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %10s %9s %9s | %10s %9s %9s | %6s %6s\n' mode bare_rps bare_p99 bare_cpu simple_rps simple_p99 simple_cpu rps/ cpu/
for mode in "${MODES[@]}"; do
  start "bare-$mode" ./jbang bench/BareHttpServer.java -p 0 -m "$mode"; bare_pid=$PID; bare_port=$PORT
  start "simple-$mode" ./jbang SimpleHttpServer.java -p 0 -q -m "$mode"; simple_pid=$PID; simple_port=$PORT
  # Warm-up: let the JIT compile both hot paths before anything is measured.
  wrk -t1 -c"$CONNECTIONS" -d3s "http://127.0.0.1:$bare_port/health" >/dev/null
  wrk -t1 -c"$CONNECTIONS" -d3s "http://127.0.0.1:$simple_port/health" >/dev/null
  : >"$work/bare"; : >"$work/simple"
  for _ in $(seq 1 "$RUNS"); do
    wrk_run "$bare_pid" "http://127.0.0.1:$bare_port/health" "$CONNECTIONS" "$SECONDS_PER_RUN" >>"$work/bare"
    wrk_run "$simple_pid" "http://127.0.0.1:$simple_port/health" "$CONNECTIONS" "$SECONDS_PER_RUN" >>"$work/simple"
  done
  b_rps=$(cut -d' ' -f1 "$work/bare" | median); b_p99=$(cut -d' ' -f2 "$work/bare" | median); b_cpu=$(cut -d' ' -f3 "$work/bare" | median)
  s_rps=$(cut -d' ' -f1 "$work/simple" | median); s_p99=$(cut -d' ' -f2 "$work/simple" | median); s_cpu=$(cut -d' ' -f3 "$work/simple" | median)
  printf '%-8s %10.0f %7.2fms %7.1fus | %10.0f %7.2fms %7.1fus | %6.2f %6.2f\n' "$mode" "$b_rps" "$b_p99" "$b_cpu" "$s_rps" "$s_p99" "$s_cpu" \
    "$(awk -v a="$s_rps" -v b="$b_rps" 'BEGIN {print a / b}')" "$(awk -v a="$s_cpu" -v b="$b_cpu" 'BEGIN {print a / b}')"
  stop "$bare_pid"; stop "$simple_pid"
done
