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

if ! command -v wrk >/dev/null; then
  echo "[bench] installing wrk (apt-get)..." >&2
  (apt-get -o DPkg::Lock::Timeout=300 install -y -qq wrk >/dev/null 2>&1 \
    || { apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null 2>&1 && apt-get -o DPkg::Lock::Timeout=300 install -y -qq wrk >/dev/null; }) \
    || { echo "Error: wrk is missing and could not be installed (apt-get install wrk)" >&2; exit 1; }
fi

work=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM

# start NAME ARGS...: runs ./jbang ARGS in the background (./jbang execs the JVM, so $! is the server's pid),
# remembers the pid for cleanup, and sets PID and PORT once the ready line is there.
start() {
  local name=$1; shift
  ./jbang "$@" >"$work/$name.out" 2>&1 &
  PID=$!; PORT=""
  pids+=("$PID")
  for _ in $(seq 1 600); do
    PORT=$(grep -m1 -oE 'Listening on http://[^:]+:[0-9]+' "$work/$name.out" | grep -oE '[0-9]+$') && return
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.2
  done
  echo "Error: $name did not start:" >&2; cat "$work/$name.out" >&2; exit 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)

# run PID PORT: one wrk run on /health; prints "requests_per_second p99_ms cpu_us_per_request".
run() {
  local before after
  before=$(cpu_ticks "$1")
  wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency "http://127.0.0.1:$2/health" >"$work/wrk.out"
  after=$(cpu_ticks "$1")
  awk -v ticks=$((after - before)) -v hz="$TICKS" '/requests in/ {n=$1}
       /Requests\/sec:/ {rps=$2}
       $1=="99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; p99=v}
       /Non-2xx|Socket errors/ {err=err $0 ";"}
       END {printf "%.0f %.2f %.1f\n", rps, p99, ticks * 1e6 / hz / n; if (err != "") print "[bench] wrk: " err > "/dev/stderr"}' "$work/wrk.out"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "# $(nproc) cores, $(uname -sr), JDK $(/usr/lib/jvm/temurin-25-jdk-amd64/bin/java -version 2>&1 | head -n1 | cut -d'"' -f2 2>/dev/null || echo '?')"
echo "# wrk -t1 -c$CONNECTIONS -d${SECONDS_PER_RUN}s --latency http://127.0.0.1:PORT/health, median of $RUNS runs, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %10s %9s %9s | %10s %9s %9s | %6s %6s\n' mode bare_rps bare_p99 bare_cpu simple_rps simple_p99 simple_cpu rps/ cpu/
for mode in "${MODES[@]}"; do
  start "bare-$mode" bench/BareHttpServer.java -p 0 -m "$mode"; bare_pid=$PID; bare_port=$PORT
  start "simple-$mode" SimpleHttpServer.java -p 0 -q -m "$mode"; simple_pid=$PID; simple_port=$PORT
  # Warm-up: let the JIT compile both hot paths before anything is measured.
  wrk -t1 -c"$CONNECTIONS" -d3s "http://127.0.0.1:$bare_port/health" >/dev/null
  wrk -t1 -c"$CONNECTIONS" -d3s "http://127.0.0.1:$simple_port/health" >/dev/null
  : >"$work/bare"; : >"$work/simple"
  for _ in $(seq 1 "$RUNS"); do
    run "$bare_pid" "$bare_port" >>"$work/bare"
    run "$simple_pid" "$simple_port" >>"$work/simple"
  done
  b_rps=$(cut -d' ' -f1 "$work/bare" | median); b_p99=$(cut -d' ' -f2 "$work/bare" | median); b_cpu=$(cut -d' ' -f3 "$work/bare" | median)
  s_rps=$(cut -d' ' -f1 "$work/simple" | median); s_p99=$(cut -d' ' -f2 "$work/simple" | median); s_cpu=$(cut -d' ' -f3 "$work/simple" | median)
  printf '%-8s %10.0f %7.2fms %7.1fus | %10.0f %7.2fms %7.1fus | %6.2f %6.2f\n' "$mode" "$b_rps" "$b_p99" "$b_cpu" "$s_rps" "$s_p99" "$s_cpu" \
    "$(awk -v a="$s_rps" -v b="$b_rps" 'BEGIN {print a / b}')" "$(awk -v a="$s_cpu" -v b="$b_cpu" 'BEGIN {print a / b}')"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=()
done
