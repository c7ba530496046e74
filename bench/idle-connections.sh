#!/usr/bin/env bash
# Benchmark: what an idle keep-alive connection costs in each server and mode, against nginx in the same run (the
# C10K question), and whether idle connections slow the busy ones.
#  1. Memory: for each server (nginx with 1 worker and keepalive_timeout 600; every Java server and mode), start it,
#     warm it up with 10,000 short connections (WARM_ROUNDS rounds of 10), send one request, wait SETTLE (6) s and read the
#     resident memory (RSS) of its process tree (a JVM first returns the C library's free memory, see trim_native);
#     then compare/IdleClient.java opens N keep-alive connections from several loopback source addresses, one
#     request and its answer on each, and holds them; SETTLE s later RSS is read again. Each reading also takes a JVM's
#     live heap (jcmd GC.class_histogram, after a full GC) and how much of its Java heap is resident (see measure).
#  2. Busy vs idle: LoadTest drives /health with 50 keep-alive connections for SECONDS, once with no idle connection
#     open and once with IDLE_BUSY (10,000) held open, alternating, for ThreadedHttpServer nio and virtual; it prints
#     requests/s and p99 of both and their ratios (target: within 1.5x).
#
#   bench/idle-connections.sh [N=9000] [SECONDS=5] [IDLE_BUSY=10000]      (5 to 7 minutes)
#   ONLY=REGEX bench/idle-connections.sh ...  only the memory rows whose "server mode" name matches REGEX (nginx, the
#                                          baseline, always; busy vs idle only when a ThreadedHttpServer row matches)
#   WARM_ROUNDS=0 bench/idle-connections.sh ...  no warm-up: a cold JVM (interpreted frames in every parked virtual
#                                          thread of the first few thousand connections)
#   TRIM=0 bench/idle-connections.sh ...   RSS as it is, the C library's free memory included (see trim_native: the
#                                          JIT's freed arenas then land in a Java server's figure, +0.5 to +3 KB,
#                                          different in every run)
#
# Each process gets an open-files limit of N + 1000 (prlimit); SimpleHttpServer twice that, up to the hard limit, since
# it takes connections up to half its limit. Installs nginx (Debian's package) when missing. Targets 127.0.0.1
# only; stops everything it started, by pid. Memory is per process tree: SimpleHttpServer's and the JVMs' heaps grow
# in steps, so a figure moves by a few tenths of a KB between runs; the targets are read against nginx's figure.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-9000}; SECONDS_PER_RUN=${2:-5}; IDLE_BUSY=${3:-10000}; TRIM=${TRIM:-1}; WARM_ROUNDS=${WARM_ROUNDS:-1000}
# Seconds before each reading: the JIT's compiler threads give their freed arenas back to the C library every 5 s
# (until then a JVM's RSS holds several MB that no connection needs, and trim_native cannot return them yet).
SETTLE=${SETTLE:-6}
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
  is_java "$1" || return 0
  { jcmd "$1" GC.class_histogram 2>/dev/null || true; } | awk '/^Total/ {print int($3 / 1024)}'
}
is_java() { [ "$(cat "/proc/$1/comm" 2>/dev/null)" = java ]; }

# heap_rss_kb PID: how much of a JVM's Java heap is resident, in KB: the Rss of its mappings inside the heap's address
# range (from GC.heap_info). Resident but free heap is the collector's sizing, not any connection's; 0 for another program.
heap_rss_kb() {
  is_java "$1" || { echo 0; return; }
  { jcmd "$1" GC.heap_info 2>/dev/null || true; } | python3 -c '
import re, sys
addresses = [int(a, 16) for a in re.findall(r"0x[0-9a-f]+", sys.stdin.read())]
if not addresses: print(0); sys.exit()
low, high, total, inside = min(addresses), max(addresses), 0, False
for line in open("/proc/%s/smaps" % sys.argv[1]):
    m = re.match(r"([0-9a-f]+)-([0-9a-f]+) ", line)
    if m: inside = low <= int(m.group(1), 16) and int(m.group(2), 16) <= high
    elif inside and line.startswith("Rss:"): total += int(line.split()[1])
print(total)' "$1"
}

# reading PID: "RSS LIVE_HEAP HEAP_RSS" of PID's process tree, in KB: a JVM first collects (full GC, for its live
# heap) and returns the C library's free memory.
reading() {
  local live; live=$(live_heap_kb "$1"); trim_native "$1"
  echo "$(tree_rss_kb "$1") ${live:-0} $(heap_rss_kb "$1")"
}

# measure NAME PID PORT PROTOCOL: one row of the memory table, into $work/memory ("NAME|RSS_KB|NEEDED_KB|HEAP_KB", each
# per connection; "NAME|failed|WHY" when the connections could not all be opened: the row says why, and the run goes on).
#   RSS: (RSS after - RSS before) / N, as the system sees it. For a JVM this moves by +-0.7 KB with the state of its
#        heap: 9,000 connections of ~0.8 KB fit in pages of the 8 MB initial heap that were, or were not yet, touched.
#   needed: the live heap the connections added (after a full GC) plus what the process tree grew by outside the Java
#        heap (thread stacks, the C library, the kernel's per-thread memory): what the connections hold, without the
#        collector's free space. For nginx, its RSS.
measure() {
  local name=$1 pid=$2 port=$3 protocol=$4 rss0 live0 heap0 rss1 live1 heap1
  # Warm-up: WARM_ROUNDS x 10 short connections, one request each, 10 open at a time (they die young). A JVM's JIT
  # then has compiled the per-connection path, as in a server that has been running; a cold JVM parks interpreted
  # frames, and a parked virtual thread's stack is then twice as large or more (docs/idle-connections.md).
  [ "$WARM_ROUNDS" -gt 0 ] && java -cp "$work/client" IdleClient -p "$port" --protocol "$protocol" -n 10 --rounds "$WARM_ROUNDS" </dev/null >/dev/null
  java -cp "$work/client" IdleClient -p "$port" --protocol "$protocol" -n 1 </dev/null >/dev/null
  sleep "$SETTLE"
  read -r rss0 live0 heap0 < <(reading "$pid")
  if ! hold "$port" "$protocol" "$N" "$next_source"; then
    next_source=$((next_source + (N + 4999) / 5000))
    echo "$name|failed|$(cat "$work/hold.why")" >>"$work/memory"
    return 1
  fi
  next_source=$((next_source + (N + 4999) / 5000))   # the closed connections' ports wait in TIME_WAIT for a minute
  sleep "$SETTLE"
  read -r rss1 live1 heap1 < <(reading "$pid")
  release
  local row
  row=$(awk -v n="$N" -v r0="$rss0" -v r1="$rss1" -v l0="$live0" -v l1="$live1" -v h0="$heap0" -v h1="$heap1" -v java="$(is_java "$pid" && echo 1)" 'BEGIN {
    rss = (r1 - r0) / n
    if (java) printf "%.2f|%.2f|%.2f", rss, ((l1 - l0) + (r1 - h1) - (r0 - h0)) / n, (l1 - l0) / n
    else printf "%.2f|%.2f|", rss, rss }')
  echo "$name|$row" >>"$work/memory"
  printf '[bench] %-30s RSS %7d -> %7d KB, live heap %6d -> %6d KB, resident heap %6d -> %6d KB: %s KB per connection (RSS|needed|heap)\n' \
    "$name" "$rss0" "$rss1" "$live0" "$live1" "$heap0" "$heap1" "$row" >&2
}

echo "# $(nproc) cores (shared with other work: figures move between runs), $(uname -sr), JDK $(jdk_version), $(nginx_version), $(date -u +%Y-%m-%d)"
echo "# $N idle keep-alive connections, each answered once, from fresh loopback source addresses (127.0.0.2 and up), after a warm-up of $((WARM_ROUNDS * 10)) short connections; JVMs' free native memory trimmed before each RSS reading: $([ "$TRIM" = 1 ] && echo yes || echo no); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$work/memory"

need nginx nginx   # Debian's nginx package (start_nginx would otherwise install nginx-light)
need python3 python3   # heap_rss_kb reads smaps with it; the busy-vs-idle part reads LoadTest's JSON
NGINX_CONNECTIONS=$LIMIT NGINX_KEEPALIVE=600s start_nginx
measure "nginx (1 worker)" "$NGINX_PID" "$NGINX_PORT" http
stop "$NGINX_PID"

# run_java NAME PROTOCOL SCRIPT ARGS...: measures one Java server and mode.
run_java() {
  local name=$1 protocol=$2; shift 2
  [[ "$name" =~ ${ONLY:-.} ]] || return 0
  start "$name" prlimit --nofile="${FDS:-$LIMIT}" ./jbang "$@" -p 0 -q
  measure "$name" "$PID" "$PORT" "$protocol" || true   # a failed row says why; the other servers are still measured
  stop "$PID"
}
for m in nio virtual thread pool; do
  args=(-m "$m" --idle-timeout 600000)
  [ "$m" = pool ] && args+=(-w "$((N + 10))")
  run_java "ThreadedHttpServer $m" http ThreadedHttpServer.java "${args[@]}"
done
# SimpleHttpServer takes at most half its open-files limit in connections (its ready line's max-connections)
hard=$(ulimit -Hn); [ "$hard" = unlimited ] && hard=$((2 * LIMIT))
FDS=$(( 2 * LIMIT < hard ? 2 * LIMIT : hard )) run_java "SimpleHttpServer virtual" http SimpleHttpServer.java -m virtual
for m in nio async virtual thread; do run_java "EchoServer $m" echo EchoServer.java -m "$m"; done
for m in nio async virtual; do run_java "PrimeEchoServer $m" prime PrimeEchoServer.java -m "$m"; done

nginx_kb=$(awk -F'|' '$1 ~ /^nginx/ {print $3}' "$work/memory")
echo
echo "# KB per connection: RSS is the process tree's resident memory after - before, over N; needed is the live heap the"
echo "# connections added (after a full GC) plus the growth outside the Java heap; heap is the first part alone. Targets"
echo "# are read on needed (a JVM's RSS moves by +-0.7 KB with how much of its heap was already touched)."
printf '%-30s %8s %8s %8s %9s  %s\n' "server, mode" "RSS" "needed" "heap" "x nginx" "target (on needed)"
while IFS='|' read -r name rss kb heap; do
  if [ "$rss" = failed ]; then printf '%-30s %8s %8s %8s %9s  %s\n' "$name" "-" "-" "-" "-" "NOT measured: $kb"; continue; fi
  case "$name" in
    "ThreadedHttpServer nio") target="<= 1.0 KB: $(awk -v k="$kb" 'BEGIN {print (k <= 1.0 ? "met" : "NOT met")}')";;
    "ThreadedHttpServer virtual"|"EchoServer virtual"|"PrimeEchoServer virtual")
      target="<= 4.4 KB: $(awk -v k="$kb" 'BEGIN {print (k <= 4.4 ? "met" : "NOT met")}')";;
    "EchoServer nio") target="<= 0.8 KB: $(awk -v k="$kb" 'BEGIN {print (k <= 0.8 ? "met" : "NOT met")}')";;
    "PrimeEchoServer nio") target="<= 1.0 KB: $(awk -v k="$kb" 'BEGIN {print (k <= 1.0 ? "met" : "NOT met")}')";;
    "EchoServer async") target="<= 2x nginx's: $(awk -v k="$kb" -v n="$nginx_kb" 'BEGIN {print (k <= 2 * n ? "met" : "NOT met")}')";;
    nginx*) target="the baseline";;
    *) target="measured";;
  esac
  printf '%-30s %8.2f %8.2f %8s %9.1f  %s\n' "$name" "$rss" "$kb" "${heap:--}" "$(awk -v k="$kb" -v n="$nginx_kb" 'BEGIN {print (n > 0 ? k / n : 0)}')" "$target"
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
echo
echo "# Busy vs idle: LoadTest -c 50 on /health for ${SECONDS_PER_RUN}s, with 0 and with $IDLE_BUSY idle keep-alive connections open,"
echo "# alternating, 2 rounds each, median; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %12s %10s | %12s %10s | %8s %8s  %s\n' "server, mode" "rps (0 idle)" "p99 ms" "rps ($IDLE_BUSY)" "p99 ms" "rps /" "p99 /" "target: within 1.5x"
for m in nio virtual; do
  [[ "ThreadedHttpServer $m" =~ ${ONLY:-.} ]] || continue
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
