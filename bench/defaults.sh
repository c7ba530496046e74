#!/usr/bin/env bash
# Benchmark: what a user gets from the plain commands, every row against its baseline in the same run.
#   1. ThreadedHttpServer with no -m, /health: requests/s and p99 against nginx (bench/threaded-http-server.sh does
#      the wrk runs, for the default mode and for nio; its table is printed as it comes).
#   2. `./jbang EchoClient.java` with no options but the port (and a fresh loopback source address per round, so that
#      no round inherits the previous rounds' ports in TIME_WAIT), total time against the C epoll client
#      (compare/c/echo_client.c) on the C epoll server, alternately RUNS times; also the previous default
#      (`-m virtual --warmup 0`).
#   3. Each server JVM started from the command ./jbang runs (JBANG_LAUNCHER_PRINT=1), `-p 0 -q`, RUNS times: time
#      from spawn to its ready line, and its RSS at that moment (VmRSS), with its header's JVM options and AOT cache
#      against the same command with JVM defaults (the header's options and the AOT cache left out).
#   4. The launcher: `./jbang ThreadedHttpServer.java --version` against the java command it runs, alternately
#      RUNS times; the difference of the medians is what the launcher adds. Also with JBANG_LAUNCHER_FAST=0 (through
#      JBang's own JVM, as before the fast path).
#   5. What the JVM options cost in throughput: ThreadedHttpServer (default mode) with its header's options and AOT
#      cache against the same command with the JVM's defaults, wrk on /health, alternately RUNS times.
#
#   bench/defaults.sh [RUNS=5] [WRK_SECONDS=5]
#
# Needs gcc (row 2), wrk and nginx (row 1; installed when missing). Targets 127.0.0.1 only; stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}; WRK_SECONDS=${2:-5}
SERVERS=(ThreadedHttpServer SimpleHttpServer EchoServer PrimeEchoServer)

source bench/lib.sh
need gcc gcc

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
# verdict VALUE LIMIT: "met" when VALUE <= LIMIT
verdict() { awk -v v="$1" -v l="$2" 'BEGIN {print (v <= l ? "met" : "NOT met")}'; }

echo "# $(nproc) cores, $(uname -sr), JDK $(jdk_version); RUNS=$RUNS"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# Build everything, and let each server's AOT cache be trained (the launcher does it in the background after a run).
for s in "${SERVERS[@]}" EchoClient; do ./jbang build "$s.java" >/dev/null 2>&1; done
for s in "${SERVERS[@]}"; do
  start "$s" ./jbang "$s.java" -p 0 -q; stop "$PID"
  dir=$(JBANG_LAUNCHER_PRINT=1 ./jbang "$s.java" | sed -nE 's/.* -classpath ([^:]*)\/[^/:]*\.jar.*/\1/p')
  for _ in $(seq 1 1200); do compgen -G "$dir/*.aot.lock" >/dev/null || break; sleep 0.1; done
done

# ---- 3. Spawn to ready line, and RSS then.
# ready CMD...: starts CMD -p 0 -q, sets MS (spawn to ready line) and RSS_MB (VmRSS when it was read), stops it.
ready() {
  local line t0 pid rss
  t0=$EPOCHREALTIME
  exec {fd}< <(exec "$@" -p 0 -q 2>&1)
  pid=$!
  MS=nan; RSS_MB=nan
  while IFS= read -r -u "$fd" line; do
    if [[ $line == *"Listening on"* ]]; then
      MS=$(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN {printf "%.1f", (a - b) * 1000}')
      rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
      RSS_MB=$(awk -v k="$rss" 'BEGIN {printf "%.1f", k / 1024}')
      break
    fi
  done
  kill "$pid" 2>/dev/null || true
  exec {fd}<&-
  wait "$pid" 2>/dev/null || true
}

echo
echo "Server JVMs, spawn to ready line and RSS then (median of $RUNS; 'defaults' = the same command without the"
echo "header's //JAVA_OPTIONS and without the AOT cache):"
printf '  %-20s %10s %10s %7s | %10s %10s %7s | %s\n' server "ready ms" "defaults" ratio "RSS MB" "defaults" ratio "targets <= 150 ms, <= 48 MB"
worst_ms=0; worst_rss=0
for s in "${SERVERS[@]}"; do
  eval "ours=($(JBANG_LAUNCHER_PRINT=1 ./jbang "$s.java"))"
  # the JVM's defaults: the java binary, then everything from -classpath on
  for i in "${!ours[@]}"; do [ "${ours[i]}" = -classpath ] && { plain=("${ours[0]}" "${ours[@]:i}"); break; }; done
  : >"$work/ready"
  for _ in $(seq 1 "$RUNS"); do
    ready "${ours[@]}"; o="$MS $RSS_MB"
    ready "${plain[@]}"; echo "$o $MS $RSS_MB" >>"$work/ready"
  done
  om=$(cut -d' ' -f1 "$work/ready" | median); orss=$(cut -d' ' -f2 "$work/ready" | median)
  pm=$(cut -d' ' -f3 "$work/ready" | median); prss=$(cut -d' ' -f4 "$work/ready" | median)
  printf '  %-20s %10.1f %10.1f %7s | %10.1f %10.1f %7s | %s, %s\n' "$s" "$om" "$pm" "$(ratio "$om" "$pm")" "$orss" "$prss" \
    "$(ratio "$orss" "$prss")" "$(verdict "$om" 150)" "$(verdict "$orss" 48)"
  worst_ms=$(awk -v a="$om" -v b="$worst_ms" 'BEGIN {print (a > b ? a : b)}')
  worst_rss=$(awk -v a="$orss" -v b="$worst_rss" 'BEGIN {print (a > b ? a : b)}')
done
echo "  JVM options in use: $(grep -h '^//JAVA_OPTIONS' "${SERVERS[@]/%/.java}" | sort -u | sed 's|^//JAVA_OPTIONS ||' | paste -sd'|')"

# ---- 4. What the launcher adds when nothing changed.
echo
eval "direct=($(JBANG_LAUNCHER_PRINT=1 ./jbang ThreadedHttpServer.java --version))"
elapsed() { local t0=$EPOCHREALTIME; "$@" >/dev/null 2>&1 || true; awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN {printf "%.1f\n", (a - b) * 1000}'; }
: >"$work/launch"
for _ in $(seq 1 $((RUNS * 2))); do
  echo "$(elapsed "${direct[@]}") $(elapsed ./jbang ThreadedHttpServer.java --version) $(JBANG_LAUNCHER_FAST=0 elapsed ./jbang ThreadedHttpServer.java --version)" >>"$work/launch"
done
d=$(cut -d' ' -f1 "$work/launch" | median); f=$(cut -d' ' -f2 "$work/launch" | median); j=$(cut -d' ' -f3 "$work/launch" | median)
fast_ms=$(awk -v a="$f" -v b="$d" 'BEGIN {printf "%.1f", a - b}')
echo "Launcher, ThreadedHttpServer.java --version (median of $((RUNS * 2)) alternating runs): java command $d ms,"
echo "  ./jbang $f ms (adds $fast_ms ms; target <= 100 ms: $(verdict "$fast_ms" 100)),"
echo "  ./jbang through JBang's JVM (JBANG_LAUNCHER_FAST=0) $j ms (adds $(awk -v a="$j" -v b="$d" 'BEGIN {printf "%.1f", a - b}') ms)"

# ---- 2. EchoClient with no options against the C client, on the C epoll server.
echo
gcc -O2 -o "$work/echo_server" compare/c/echo_server.c && gcc -O2 -o "$work/echo_client" compare/c/echo_client.c
start c-epoll "$work/echo_server" -p 0
next_source=10
: >"$work/echo"
# total_ms KIND SOURCE: one round from that loopback source address; prints its total time in ms ("nan" on failure)
total_ms() {
  case $1 in
    c) "$work/echo_client" -p "$PORT" -S "$2" | sed -nE 's/.*total time = ([0-9.]+) ms.*failed = 0.*/\1/p' | grep . || echo nan;;
    default) java_total_ms "$2";;
    previous) java_total_ms "$2" -m virtual --warmup 0;;
  esac
}
# java_total_ms SOURCE [OPTION...]: one `./jbang EchoClient.java` round with those options; its total ms ("nan" on failure)
java_total_ms() {
  ./jbang EchoClient.java -p "$PORT" --source "$1" "${@:2}" --json -q 2>&1 | sed -nE 's/.*"totalMs":([0-9.E]+).*"failed":0,.*/\1/p' | grep . || echo nan
}
# source_address: sets SRC to the next fresh loopback address, 127.0.12.x (not the addresses bench/echo.sh uses), so that no
# round meets the ports an earlier one left in TIME_WAIT; EchoClient's warm-up round takes the address after its own.
# (Set here, in this shell: a counter bumped inside $(...) would not survive the subshell.)
source_address() {
  SRC="127.0.12.$next_source"; next_source=$((next_source + 2))
  [ "$next_source" -lt 255 ] || { echo "Error: out of loopback source addresses (lower RUNS)" >&2; exit 1; }
}
for _ in 1 2; do source_address; total_ms c "$SRC" >/dev/null; done   # the server's warm-up
for _ in $(seq 1 "$RUNS"); do
  source_address; cm=$(total_ms c "$SRC"); source_address; dm=$(total_ms default "$SRC"); source_address; pm=$(total_ms previous "$SRC")
  echo "$cm $dm $pm" >>"$work/echo"
done
stop "$PID"
c=$(cut -d' ' -f1 "$work/echo" | median); e=$(cut -d' ' -f2 "$work/echo" | median); p=$(cut -d' ' -f3 "$work/echo" | median)
echo "EchoClient, 10,000 connections x 100 bytes against the C epoll server (median of $RUNS alternating runs):"
echo "  C client $c ms; ./jbang EchoClient.java $e ms = $(ratio "$e" "$c")x (target <= 1.3x: $(verdict "$(ratio "$e" "$c")" 1.3));"
echo "  previous default (-m virtual --warmup 0) $p ms = $(ratio "$p" "$c")x"

# ---- 1. ThreadedHttpServer's default mode against nginx (the ready line names the default mode).
echo
start default ./jbang ThreadedHttpServer.java -p 0 -q
default_mode=$(grep -m1 -oE 'mode=[a-z]+' "$work/default.out" | cut -d= -f2)
stop "$PID"
modes="$default_mode"; [ "$default_mode" = nio ] || modes="$default_mode nio"
echo "ThreadedHttpServer, default mode $default_mode (and nio), against nginx (targets for the default on /health:"
echo "req/s >= 0.9x nginx, p99 <= 3x nginx's):"
bench/threaded-http-server.sh "$WRK_SECONDS" "$RUNS" 50 "$modes" | tee "$work/threaded"
awk -v m="$default_mode" '$1 == m && $2 == "/health" {
  printf "  default (%s) on /health: %.2fx nginx req/s (%s), p99 %.2fx nginx (%s)\n", m, $(NF-1), ($(NF-1) >= 0.9 ? "met" : "NOT met"), $NF, ($NF <= 3 ? "met" : "NOT met")}' "$work/threaded"

# ---- 5. What the JVM options cost: the same server with its header's options and AOT cache, and with the JVM's
# defaults, under the same wrk load, alternately.
echo
need wrk wrk
eval "ours=($(JBANG_LAUNCHER_PRINT=1 ./jbang ThreadedHttpServer.java))"
for i in "${!ours[@]}"; do [ "${ours[i]}" = -classpath ] && { plain=("${ours[0]}" "${ours[@]:i}"); break; }; done
start ours "${ours[@]}" -p 0 -q; ours_pid=$PID; ours_port=$PORT
start plain "${plain[@]}" -p 0 -q; plain_pid=$PID; plain_port=$PORT
for port in "$ours_port" "$plain_port"; do wrk -t1 -c50 -d3s "http://127.0.0.1:$port/health" >/dev/null; done
: >"$work/o"; : >"$work/p"
for _ in $(seq 1 "$RUNS"); do
  wrk_run "$ours_pid" "http://127.0.0.1:$ours_port/health" 50 "$WRK_SECONDS" >>"$work/o"
  wrk_run "$plain_pid" "http://127.0.0.1:$plain_port/health" 50 "$WRK_SECONDS" >>"$work/p"
done
stop "$ours_pid"; stop "$plain_pid"
o_rps=$(cut -d' ' -f1 "$work/o" | median); o_p99=$(cut -d' ' -f2 "$work/o" | median)
p_rps=$(cut -d' ' -f1 "$work/p" | median); p_p99=$(cut -d' ' -f2 "$work/p" | median)
echo "JVM options' cost, ThreadedHttpServer default mode on /health, wrk -t1 -c50 -d${WRK_SECONDS}s (median of $RUNS alternating runs):"
echo "  header options + AOT cache: $o_rps req/s, p99 $o_p99 ms; JVM defaults: $p_rps req/s, p99 $p_p99 ms;"
echo "  ratios: req/s $(ratio "$o_rps" "$p_rps")x, p99 $(ratio "$o_p99" "$p_p99")x"

echo
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
