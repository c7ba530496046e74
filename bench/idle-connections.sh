#!/usr/bin/env bash
# Benchmark: what an idle keep-alive connection costs in each server and mode, against nginx in the same run (the
# C10K question), and whether idle connections slow the busy ones.
#  1. Memory: for each server (nginx with 1 worker and keepalive_timeout 600; every Java server and mode), start it,
#     send one request, wait 2 s and read the resident memory (RSS) of its process tree (a JVM first returns the C
#     library's free memory, see trim_native); then compare/IdleClient.java
#     opens N keep-alive connections from several loopback source addresses, one request and its answer on each,
#     and holds them; 2 s later RSS is read again. (after - before) / N is the table's KB per connection. With
#     HISTO=1 the JVM's live heap per connection is printed too (jcmd GC.class_histogram, which runs a full GC).
#  2. Busy vs idle: LoadTest drives /health with 50 keep-alive connections for SECONDS, once with no idle connection
#     open and once with IDLE_BUSY (10,000) held open, alternating, for ThreadedHttpServer nio and virtual; it prints
#     requests/s and p99 of both and their ratios (target: within 1.5x).
#
#   bench/idle-connections.sh [N=9000] [SECONDS=5] [IDLE_BUSY=10000]      (about 4 minutes)
#   TRIM=0 bench/idle-connections.sh ...   RSS as it is, the C library's free memory included (see trim_native: the
#                                          JIT's freed arenas then land in a Java server's figure, +0.5 to +3 KB,
#                                          different in every run)
#
# Each process gets an open-files limit of N + 1000 (prlimit). Installs nginx (Debian's package) when missing. Targets 127.0.0.1
# only; stops everything it started, by pid. Memory is per process tree: SimpleHttpServer's and the JVMs' heaps grow
# in steps, so a figure moves by a few tenths of a KB between runs; the targets are read against nginx's figure.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-9000}; SECONDS_PER_RUN=${2:-5}; IDLE_BUSY=${3:-10000}; TRIM=${TRIM:-1}
LIMIT=$(( (N > IDLE_BUSY ? N : IDLE_BUSY) + 1000 ))

source bench/lib.sh
javac -d "$work/client" compare/IdleClient.java
for s in ThreadedHttpServer SimpleHttpServer EchoServer PrimeEchoServer LoadTest; do ./jbang build "$s.java" >/dev/null 2>&1; done

# tree_rss_kb PID: resident memory of PID and all its descendants, in KB.
tree_pids() { echo "$1"; local c; for c in $(pgrep -P "$1" || true); do tree_pids "$c"; done; }
tree_rss_kb() { local p t=0 r; for p in $(tree_pids "$1"); do r=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0); t=$((t + ${r:-0})); done; echo "$t"; }

# hold PORT PROTOCOL COUNT FIRST_SOURCE: starts IdleClient holding COUNT connections; returns once they are all open
# and answered (sets HOLD_PID), or fails (status 1) with the client's own message (which names the limit it met) on
# stderr and in $work/hold.why, the client stopped.
hold() {
  rm -f "$work/hold.fifo"; mkfifo "$work/hold.fifo"
  prlimit --nofile="$LIMIT" java -cp "$work/client" IdleClient -p "$1" --protocol "$2" -n "$3" --first-source "$4" \
    <"$work/hold.fifo" >"$work/hold.out" 2>&1 &
  HOLD_PID=$!; pids+=("$HOLD_PID")
  exec 3>"$work/hold.fifo"   # the client holds its connections until this end is closed
  for _ in $(seq 1 1200); do
    grep -q '^holding' "$work/hold.out" && return
    kill -0 "$HOLD_PID" 2>/dev/null || break
    sleep 0.1
  done
  grep -m 1 '^Error' "$work/hold.out" >"$work/hold.why" || echo "the idle client stopped" >"$work/hold.why"
  echo "Error: the idle client did not get there:" >&2; cat "$work/hold.out" >&2
  exec 3>&-; stop "$HOLD_PID"; return 1
}
release() { exec 3>&-; wait "$HOLD_PID" 2>/dev/null || true; stop "$HOLD_PID"; }

next_source=2   # IdleClient takes 5,000 connections per source address; each run starts at a fresh one

# trim_native PID: a JVM in PID's tree gives the C library's free memory back to the system first (jcmd
# System.trim_native_heap): the JIT's compiler threads free arenas of several MB while the connections are opened,
# which the C library keeps, and which are no connection's. Nothing for another program, or with TRIM=0.
trim_native() {
  [ "$TRIM" = 1 ] || return 0
  local p; for p in $(tree_pids "$1"); do
    if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = java ]; then jcmd "$p" System.trim_native_heap >/dev/null 2>&1 || true; fi
  done
}

# live_heap_kb PID: a JVM's live heap after a full GC, in KB (from the class histogram's total line); nothing for
# another program (jcmd's attach signal, SIGQUIT, would stop nginx).
live_heap_kb() {
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = java ] || return 0
  { jcmd "$1" GC.class_histogram 2>/dev/null || true; } | awk '/^Total/ {print int($3 / 1024)}'
}

# measure NAME PID PORT PROTOCOL: one row of the memory table, into $work/memory ("NAME|KB_PER_CONN|HEAP_KB_PER_CONN";
# "NAME|failed|WHY" when the connections could not all be opened: the row says why, and the run goes on).
measure() {
  local name=$1 pid=$2 port=$3 protocol=$4 before after heap_before="" heap_after=""
  java -cp "$work/client" IdleClient -p "$port" --protocol "$protocol" -n 1 </dev/null >/dev/null
  sleep 2
  [ "${HISTO:-0}" = 1 ] && heap_before=$(live_heap_kb "$pid")
  trim_native "$pid"; before=$(tree_rss_kb "$pid")
  if ! hold "$port" "$protocol" "$N" "$next_source"; then
    next_source=$((next_source + (N + 4999) / 5000))
    echo "$name|failed|$(cat "$work/hold.why")" >>"$work/memory"
    return 1
  fi
  next_source=$((next_source + (N + 4999) / 5000))   # the closed connections' ports wait in TIME_WAIT for a minute
  sleep 2
  trim_native "$pid"; after=$(tree_rss_kb "$pid")
  [ "${HISTO:-0}" = 1 ] && heap_after=$(live_heap_kb "$pid")
  release
  local per heap=""
  per=$(awk -v a="$after" -v b="$before" -v n="$N" 'BEGIN {printf "%.2f", (a - b) / n}')
  [ -n "$heap_before" ] && heap=$(awk -v a="$heap_after" -v b="$heap_before" -v n="$N" 'BEGIN {printf "%.2f", (a - b) / n}')
  echo "$name|$per|$heap" >>"$work/memory"
  printf '[bench] %-34s RSS %7d KB -> %7d KB: %6s KB per connection%s\n' "$name" "$before" "$after" "$per" \
    "${heap:+ (live heap $heap KB)}" >&2
}

echo "# $(nproc) cores (shared with other work: figures move between runs), $(uname -sr), JDK $(jdk_version), $(nginx_version), $(date -u +%Y-%m-%d)"
echo "# $N idle keep-alive connections, each answered once, from fresh loopback source addresses (127.0.0.2 and up); JVMs' free native memory trimmed before each RSS reading: $([ "$TRIM" = 1 ] && echo yes || echo no); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$work/memory"

need nginx nginx   # Debian's nginx package (start_nginx would otherwise install nginx-light)
NGINX_CONNECTIONS=$LIMIT NGINX_KEEPALIVE=600s start_nginx
measure "nginx (1 worker)" "$NGINX_PID" "$NGINX_PORT" http
stop "$NGINX_PID"

# run_java NAME PROTOCOL SCRIPT ARGS...: measures one Java server and mode.
run_java() {
  local name=$1 protocol=$2; shift 2
  start "$name" prlimit --nofile="$LIMIT" ./jbang "$@" -p 0 -q
  measure "$name" "$PID" "$PORT" "$protocol" || true   # a failed row says why; the other servers are still measured
  stop "$PID"
}
for m in nio virtual thread pool; do
  args=(-m "$m" --idle-timeout 600000)
  [ "$m" = pool ] && args+=(-w "$((N + 10))")
  run_java "ThreadedHttpServer $m" http ThreadedHttpServer.java "${args[@]}"
done
run_java "SimpleHttpServer virtual" http SimpleHttpServer.java -m virtual
for m in nio async virtual thread; do run_java "EchoServer $m" echo EchoServer.java -m "$m"; done
for m in nio async virtual; do run_java "PrimeEchoServer $m" prime PrimeEchoServer.java -m "$m"; done

nginx_kb=$(awk -F'|' '$1 ~ /^nginx/ {print $2}' "$work/memory")
echo
printf '%-34s %12s %9s %10s  %s\n' "server, mode" "KB per conn" "x nginx" "live heap" "target"
while IFS='|' read -r name kb heap; do
  if [ "$kb" = failed ]; then printf '%-34s %12s %9s %10s  %s\n' "$name" "-" "-" "-" "NOT measured: $heap"; continue; fi
  case "$name" in
    "ThreadedHttpServer nio") target="<= 1.0 KB: $(awk -v k="$kb" 'BEGIN {print (k <= 1.0 ? "met" : "NOT met")}')";;
    "ThreadedHttpServer virtual") target="<= 4.4 KB: $(awk -v k="$kb" 'BEGIN {print (k <= 4.4 ? "met" : "NOT met")}')";;
    "EchoServer nio") target="<= 0.8 KB: $(awk -v k="$kb" 'BEGIN {print (k <= 0.8 ? "met" : "NOT met")}')";;
    "PrimeEchoServer nio") target="<= 1.0 KB: $(awk -v k="$kb" 'BEGIN {print (k <= 1.0 ? "met" : "NOT met")}')";;
    "EchoServer async") target="<= 2x nginx's: $(awk -v k="$kb" -v n="$nginx_kb" 'BEGIN {print (k <= 2 * n ? "met" : "NOT met")}')";;
    "EchoServer virtual") target="<= 4 KB: $(awk -v k="$kb" 'BEGIN {print (k <= 4 ? "met" : "NOT met")}')";;
    nginx*) target="the baseline";;
    *) target="measured";;
  esac
  printf '%-34s %12.2f %9.1f %10s  %s\n' "$name" "$kb" "$(awk -v k="$kb" -v n="$nginx_kb" 'BEGIN {print (n > 0 ? k / n : 0)}')" "${heap:--}" "$target"
done <"$work/memory"
echo "# load after the memory table: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- busy vs idle
# loadtest PORT: one LoadTest run on /health (50 connections, closed loop, after a 2 s warm-up); prints "rps p99_ms".
loadtest() {
  ./jbang LoadTest.java -q --json -c 50 -d "${SECONDS_PER_RUN}s" --warmup 2s "http://127.0.0.1:$1/health" >"$work/lt.json"
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); e=sum(r["errors"].values())
if e: print("[bench] LoadTest errors:", r["errors"], file=sys.stderr)
print(r["rps"], r["latency_ms"]["p99"])' "$work/lt.json"
}
need python3 python3
echo
echo "# Busy vs idle: LoadTest -c 50 on /health for ${SECONDS_PER_RUN}s, with 0 and with $IDLE_BUSY idle keep-alive connections open,"
echo "# alternating, 2 rounds each, median; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %12s %10s | %12s %10s | %8s %8s  %s\n' "server, mode" "rps (0 idle)" "p99 ms" "rps ($IDLE_BUSY)" "p99 ms" "rps /" "p99 /" "target: within 1.5x"
for m in nio virtual; do
  start "busy-$m" prlimit --nofile="$LIMIT" ./jbang ThreadedHttpServer.java -p 0 -q -m "$m" --idle-timeout 600000
  : >"$work/none"; : >"$work/idle"
  for round in 1 2; do
    loadtest "$PORT" >>"$work/none"
    hold "$PORT" http "$IDLE_BUSY" "$next_source"
    next_source=$((next_source + (IDLE_BUSY + 4999) / 5000))
    loadtest "$PORT" >>"$work/idle"
    release
  done
  r0=$(cut -d' ' -f1 "$work/none" | median); p0=$(cut -d' ' -f2 "$work/none" | median)
  r1=$(cut -d' ' -f1 "$work/idle" | median); p1=$(cut -d' ' -f2 "$work/idle" | median)
  awk -v m="ThreadedHttpServer $m" -v r0="$r0" -v p0="$p0" -v r1="$r1" -v p1="$p1" 'BEGIN {
    rr = r0 / r1; pr = p1 / p0; ok = rr <= 1.5 && pr <= 1.5
    printf "%-28s %12.0f %10.2f | %12.0f %10.2f | %7.2fx %7.2fx  %s\n", m, r0, p0, r1, p1, rr, pr, ok ? "met" : "NOT met"}'
  stop "$PID"
done
echo "# rps / is requests/s with none over requests/s with the idle ones (above 1: the idle ones slowed the busy);"
echo "# p99 / is p99 with the idle ones over p99 with none. Load after: $(cut -d' ' -f1-3 /proc/loadavg)"
