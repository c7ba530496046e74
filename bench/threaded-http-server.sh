#!/usr/bin/env bash
# Benchmark: ThreadedHttpServer in each mode against nginx (1 worker process), in the same run.
# Both serve the same two things: a small JSON answer at /health (nginx: `return 200` with the same shape) and the
# same static file from www/ (index.html, 1.7 KB). wrk keeps CONNECTIONS connections alive from one thread (closed
# loop: each connection sends its next request when the previous answer arrives, so latency under overload is
# understated; see wrk2 for a fixed rate). For each mode, nginx and the mode are measured alternately RUNS times
# per URL after a warm-up; the table shows median requests/s and p99 and the ratios to nginx's medians.
#
#   bench/threaded-http-server.sh [SECONDS=5] [RUNS=3] [CONNECTIONS=50] [MODES="thread pool virtual nio processes"]
#
# pool runs with -w 64 (the default 5 threads would serve 5 of the 50 keep-alive connections and starve the rest),
# processes with -w 2 (one worker JVM per core); sequential is left out (one connection at a time).
# Installs wrk and nginx (Debian packages `wrk`, `nginx`) when missing. Targets 127.0.0.1 only; stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-5}; RUNS=${2:-3}; CONNECTIONS=${3:-50}
read -r -a MODES <<<"${4:-thread pool virtual nio processes}"
STATIC=/index.html

source bench/lib.sh
need wrk wrk
need nginx nginx   # Debian's nginx package (start_nginx would otherwise install nginx-light)
start_nginx
nginx_pid=$NGINX_PID; nginx_port=$NGINX_PORT   # wrk_run's CPU column for nginx (the master) is not read
curl -sf -o /dev/null "http://127.0.0.1:$nginx_port$STATIC" || { echo "Error: nginx does not serve $STATIC" >&2; exit 1; }

echo "# $(nproc) cores, $(uname -sr), JDK $(jdk_version), $(nginx_version)"
echo "# wrk -t1 -c$CONNECTIONS -d${SECONDS_PER_RUN}s --latency, keep-alive; median of $RUNS alternating runs; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %-12s %10s %9s | %10s %9s | %6s %6s\n' mode url nginx_rps nginx_p99 ours_rps ours_p99 rps/ p99/
for mode in "${MODES[@]}"; do
  args=(-p 0 -q -m "$mode")
  case "$mode" in pool) args+=(-w 64);; processes) args+=(-w 2);; esac
  start "$mode" ./jbang ThreadedHttpServer.java "${args[@]}"; pid=$PID; port=$PORT
  for url in /health "$STATIC"; do
    # Warm-up: let the JIT compile the hot path (and nginx fill its caches) before anything is measured.
    wrk -t1 -c"$CONNECTIONS" -d3s "http://127.0.0.1:$port$url" >/dev/null
    wrk -t1 -c"$CONNECTIONS" -d1s "http://127.0.0.1:$nginx_port$url" >/dev/null
    : >"$work/n"; : >"$work/o"
    for _ in $(seq 1 "$RUNS"); do
      wrk_run "$nginx_pid" "http://127.0.0.1:$nginx_port$url" "$CONNECTIONS" "$SECONDS_PER_RUN" >>"$work/n"
      wrk_run "$pid" "http://127.0.0.1:$port$url" "$CONNECTIONS" "$SECONDS_PER_RUN" >>"$work/o"
    done
    n_rps=$(cut -d' ' -f1 "$work/n" | median); n_p99=$(cut -d' ' -f2 "$work/n" | median)
    o_rps=$(cut -d' ' -f1 "$work/o" | median); o_p99=$(cut -d' ' -f2 "$work/o" | median)
    printf '%-10s %-12s %10.0f %7.2fms | %10.0f %7.2fms | %6.2f %6.2f\n' "$mode" "$url" "$n_rps" "$n_p99" "$o_rps" "$o_p99" \
      "$(awk -v a="$o_rps" -v b="$n_rps" 'BEGIN {print a / b}')" "$(awk -v a="$o_p99" -v b="$n_p99" 'BEGIN {print (b > 0 ? a / b : 0)}')"
  done
  stop "$pid"   # and wait until it is gone (processes mode stops its workers first), so modes never overlap
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
