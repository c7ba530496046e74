#!/usr/bin/env bash
# Benchmark: the echo-server race of 10,000 connections at once, each sending 100 random bytes and reading them back.
# Three clients (the C epoll client from compare/c/, EchoClient -m virtual, EchoClient -m nio) against five servers
# (the C epoll server from compare/c/, EchoServer in each mode), in one run. Every client measures inside itself,
# from its first connect to its last close, so no JVM start-up is counted. Each server runs long-lived and is
# warmed up with two unmeasured rounds; each EchoClient process runs one unmeasured round (--warmup 1) before the
# measured one. The clients take turns, RUNS times per server; the table shows the median total time, p99
# latency, the server's CPU time for a C client's round (from /proc/PID/stat: on a shared 2-core machine it moves
# much less than wall time; an EchoClient process also runs its warm-up round, so its rows show none), and the
# ratios against the C client on the C server. Every round connects from a fresh
# loopback address (127.0.0.10, .11, ...), so that no round inherits the previous rounds' ports in TIME_WAIT.
#
#   bench/echo.sh [RUNS=5] [CONNECTIONS=10000] [SIZE=100] [MODES="thread nio async virtual"]
#   bench/echo.sh 5 10000 100 ""        only the C epoll server: the client row alone (about a minute)
#
# It also counts listen-queue overflows per server (TcpExtListenOverflows from /proc/net/netstat, as nstat shows it:
# a connect the server did not accept in time, whose SYN TCP retransmits after 1 s, then 3 s); target 0 in every
# mode, and the best mode within 0.8x the C epoll server's total time. The client row's target: EchoClient -m nio
# within 1.3x the C epoll client, as the median of the RUNS ratios of a pair (the two clients one after the other
# against the C server), which a loaded machine moves much less than either client's own time.
# Needs gcc for the C pair (skipped with a message without it). Targets 127.0.0.1 only; stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}; N=${2:-10000}; SIZE=${3:-100}
read -r -a MODES <<<"${4-thread nio async virtual}"

source bench/lib.sh

have_c=1
if command -v gcc >/dev/null; then
  gcc -O2 -o "$work/echo_server" compare/c/echo_server.c && gcc -O2 -o "$work/echo_client" compare/c/echo_client.c
else
  have_c=0
  echo "[bench] gcc not found: the C epoll baseline is skipped, so there are no ratios (apt-get install gcc)" >&2
fi
./jbang build EchoServer.java >/dev/null 2>&1; ./jbang build EchoClient.java >/dev/null 2>&1

# listen_overflows: the kernel's count of connections dropped because a listen queue was full (TcpExtListenOverflows,
# as nstat shows it). It is system-wide: anything else on the machine that overflows a queue counts too.
listen_overflows() {
  awk '$1 == "TcpExt:" {if (!seen) {for (i = 2; i <= NF; i++) name[i] = $i; seen = 1} else for (i = 2; i <= NF; i++) if (name[i] == "ListenOverflows") print $i}' /proc/net/netstat
}

# Each round connects from the next loopback address (127.0.0.10 and up; 127.0.0.0/8 is all loopback).
next_source=10

# cpu_of_children: the CPU time (user + system, ms) of this shell's finished children so far, into CHILDREN_CPU.
# `times` runs in this shell: in a $(...) subshell it would count only that subshell's children.
cpu_of_children() {
  times >"$work/times"
  CHILDREN_CPU=$(awk 'NR == 2 {for (i = 1; i <= 2; i++) {f = $i; sub(/s$/, "", f); split(f, a, "m"); t += (a[1] * 60 + a[2]) * 1000}; print t}' "$work/times")
}

# client KIND PORT: one measured round (KIND: c, virtual, nio); sets TOTAL (ms), P99 (µs), FAILED and CLIENT_CPU
# (ms of CPU the client used for that round: the C client's whole process; EchoClient's own count over its measured
# round, every thread of the JVM, which leaves out its start-up and warm-up round).
client() {
  local kind=$1 port=$2 src="127.0.0.$next_source" cpu0
  TOTAL=nan; P99=nan; FAILED=nan; CLIENT_CPU=nan
  if [ "$kind" = c ]; then
    next_source=$((next_source + 1))
    cpu_of_children; cpu0=$CHILDREN_CPU
    "$work/echo_client" -p "$port" -n "$N" -s "$SIZE" -S "$src" >"$work/client.out" 2>&1 || true
    cpu_of_children; CLIENT_CPU=$(awk -v a="$CHILDREN_CPU" -v b="$cpu0" 'BEGIN {print a - b}')
    read -r TOTAL P99 FAILED < <(sed -nE 's/.*total time = ([0-9.]+) ms.* p99 = ([0-9.]+) µs.*failed = ([0-9]+).*/\1 \2 \3/p' "$work/client.out") || true
  else
    next_source=$((next_source + 2))   # its warm-up round connects from one address, the measured round from the next
    ./jbang EchoClient.java -p "$port" -n "$N" -s "$SIZE" -m "$kind" --source "$src" --warmup 1 --json -q \
      >"$work/client.out" 2>&1 || true
    read -r TOTAL P99 < <(sed -nE 's/.*"totalMs":([0-9.E]+).*"latencyUs":\{[^}]*"p99":([0-9.E]+)[^}]*\}.*/\1 \2/p' "$work/client.out") || true
    FAILED=$(sed -nE 's/.*"failed":([0-9]+).*/\1/p' "$work/client.out")
    CLIENT_CPU=$(sed -nE 's/.*"cpuMs":([0-9.E-]+).*/\1/p' "$work/client.out")
  fi
  if [ -z "$FAILED" ] || [ "$TOTAL" = nan ]; then
    TOTAL=nan; P99=nan; FAILED=nan
    echo "[bench] the $kind client printed no result:" >&2; cat "$work/client.out" >&2
  elif [ "$FAILED" != 0 ]; then
    echo "[bench] the $kind client counted failures:" >&2; grep -E '^C:|"failures"' "$work/client.out" >&2 || true
  fi
  [ "$next_source" -lt 255 ] || { echo "Error: out of loopback source addresses (lower RUNS)" >&2; exit 1; }
}

clients=(nio virtual); [ $have_c = 1 ] && clients=(c nio virtual)
servers=(${MODES[@]+"${MODES[@]}"}); [ $have_c = 1 ] && servers=(c-epoll ${MODES[@]+"${MODES[@]}"})
[ ${#servers[@]} -gt 0 ] || { echo "Error: no server to race (MODES is empty and gcc is missing)" >&2; exit 2; }
jdk=$(jdk_version)
echo "# $(nproc) cores, $(uname -sr), JDK $jdk; $N connections x $SIZE bytes, all at once; median of $RUNS runs"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$work/results"; : >"$work/overflows"
for server in "${servers[@]}"; do
  if [ "$server" = c-epoll ]; then
    start "$server" "$work/echo_server" -p 0
  else
    start "$server" ./jbang EchoServer.java -p 0 -q -m "$server"
  fi
  # Warm-up: two unmeasured rounds, so that the JIT has compiled the server's hot path.
  o0=$(listen_overflows)
  for _ in 1 2; do
    if [ $have_c = 1 ]; then client c "$PORT"; else client nio "$PORT"; fi
  done
  o1=$(listen_overflows)
  for run in $(seq 1 "$RUNS"); do
    for c in "${clients[@]}"; do
      cpu_before=$(cpu_ms "$PID")
      client "$c" "$PORT"
      cpu=$(awk -v a="$(cpu_ms "$PID")" -v b="$cpu_before" 'BEGIN {print a - b}')
      echo "$server $c $TOTAL $P99 $FAILED $cpu $CLIENT_CPU" >>"$work/results"
      printf '[bench] run %d: %-7s client -> %-7s server: total %8.1f ms, p99 %8.1f ms, server CPU %4.0f ms, client CPU %4.0f ms, failed %s\n' \
        "$run" "$c" "$server" "$TOTAL" "$(awk -v p="$P99" 'BEGIN {print p / 1000}')" "$cpu" "$CLIENT_CPU" "$FAILED" >&2
    done
  done
  o2=$(listen_overflows)
  echo "$server $((o1 - o0)) $((o2 - o1))" >>"$work/overflows"
  stop "$PID"
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# cell SERVER CLIENT FIELD: the median of that column (3 = total ms, 4 = p99 µs, 6 = server CPU ms, 7 = client CPU ms)
# over the runs
cell() { awk -v s="$1" -v c="$2" -v f="$3" '$1 == s && $2 == c {print $f}' "$work/results" | median; }
# pair_ratio CLIENT [FIELD=3]: the median over the runs of CLIENT's figure over the C client's in the same run, on the
# C server (3 = total ms, 7 = client CPU ms)
pair_ratio() {
  awk -v c="$1" -v f="${2:-3}" '$1 == "c-epoll" && $2 == "c" {b[++i] = $f} $1 == "c-epoll" && $2 == c {t[++j] = $f}
    END {for (k = 1; k <= j; k++) if (b[k] > 0 && t[k] != "nan") print t[k] / b[k]}' "$work/results" | median
}
# failed SERVER CLIENT: failed connections over all measured runs ("no result" counts as a failure)
failed() { awk -v s="$1" -v c="$2" '$1 == s && $2 == c {n += ($5 == "nan" ? 1 : $5)} END {print n + 0}' "$work/results"; }

echo
printf '%-22s %-22s %10s %10s %15s %8s\n' client server "total ms" "p99 ms" "server CPU ms" failed
for server in "${servers[@]}"; do
  for c in "${clients[@]}"; do
    printf '%-22s %-22s %10.1f %10.1f %15s %8d\n' "$( [ "$c" = c ] && echo "C epoll" || echo "EchoClient -m $c")" \
      "$( [ "$server" = c-epoll ] && echo "C epoll" || echo "EchoServer -m $server")" \
      "$(cell "$server" "$c" 3)" "$(awk -v p="$(cell "$server" "$c" 4)" 'BEGIN {print p / 1000}')" \
      "$( [ "$c" = c ] && printf '%.0f' "$(cell "$server" "$c" 6)" || echo -)" "$(failed "$server" "$c")"
  done
done
echo "failed connections, all measured runs: $(awk '{n += ($5 == "nan" ? 1 : $5)} END {print n + 0}' "$work/results")"
echo
echo "Listen-queue overflows (TcpExtListenOverflows, system-wide) per server: in its 2 warm-up rounds, in its measured rounds"
echo "(target: 0 in every mode; a dropped SYN waits for TCP's 1 s, then 3 s, retransmission):"
while read -r server warm measured; do
  printf '  %-22s %8d warm-up %8d measured  %s\n' "$( [ "$server" = c-epoll ] && echo "C epoll" || echo "EchoServer -m $server")" \
    "$warm" "$measured" "$( [ "$measured" = 0 ] && echo met || echo "NOT met")"
done <"$work/overflows"

if [ $have_c = 1 ]; then
  base=$(cell c-epoll c 3); base_p99=$(cell c-epoll c 4); base_cpu=$(cell c-epoll c 6)
  echo
  echo "Servers, each against the C client (ratios of total time, p99 and server CPU to the C epoll server's):"
  best_mode=""; best=""
  for m in ${MODES[@]+"${MODES[@]}"}; do
    t=$(cell "$m" c 3); p=$(cell "$m" c 4); u=$(cell "$m" c 6)
    awk -v m="$m" -v t="$t" -v b="$base" -v p="$p" -v bp="$base_p99" -v u="$u" -v bu="$base_cpu" \
      'BEGIN {printf "  EchoServer -m %-8s %7.1f ms  %5.2fx   p99 %5.2fx   CPU %5.2fx\n", m, t, t / b, p / bp, (bu > 0 ? u / bu : 0)}'
    if [ -z "$best" ] || awk -v t="$t" -v b="$best" 'BEGIN {exit !(t < b)}'; then best=$t; best_mode=$m; fi
  done
  [ -n "$best_mode" ] && awk -v m="$best_mode" -v t="$best" -v b="$base" -v f="$(failed "$best_mode" c)" 'BEGIN {r = t / b;
    printf "  best mode %s: %.2fx the C epoll server, %d failed (target: <= 0.8x, 0 failed): %s\n", m, r, f, r <= 0.8 && f == 0 ? "met" : "NOT met"}'
  echo "Clients, each against the C server (ratios of total time and of the client's CPU time to the C epoll client's,"
  echo "median of the $RUNS pairs, each pair run one after the other; p99 as the ratio of the medians):"
  awk -v t="$base" -v u="$(cell c-epoll c 7)" 'BEGIN {printf "  C epoll client       %7.1f ms           CPU %6.0f ms\n", t, u}'
  for c in nio virtual; do
    t=$(cell c-epoll "$c" 3); p=$(cell c-epoll "$c" 4); u=$(cell c-epoll "$c" 7)
    awk -v m="$c" -v t="$t" -v r="$(pair_ratio "$c")" -v u="$u" -v ur="$(pair_ratio "$c" 7)" -v p="$p" -v bp="$base_p99" \
      'BEGIN {printf "  EchoClient -m %-7s %7.1f ms  %5.2fx   CPU %6.0f ms %5.2fx   p99 %5.2fx\n", m, t, r, u, ur, p / bp}'
  done
  awk -v r="$(pair_ratio nio)" -v f="$(failed c-epoll nio)" 'BEGIN {
    printf "  EchoClient -m nio: %.2fx the C epoll client, %d failed (target: <= 1.3x, 0 failed): %s\n", r, f, r <= 1.3 && f == 0 ? "met" : "NOT met"}'
fi
