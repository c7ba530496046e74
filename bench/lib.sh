# What the bench/*.sh scripts share (each one sources this file from the project root): a work folder and the
# servers it started, both cleaned up on exit or Ctrl-C; starting a server and reading its port from its ready line;
# stopping one; the CPU time a process has used; medians; installing a missing Debian package; the JDK's version;
# nginx as the baseline server.

work=$(mktemp -d); chmod 755 "$work"   # 755: nginx's worker reads its files here
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM

# start NAME CMD...: runs CMD in the background (./jbang execs the JVM, so $! is the server's own pid), remembers
# the pid for cleanup, and sets PID and PORT once the ready line "Listening on SCHEME://HOST:PORT" is printed.
start() {
  local name=$1; shift
  "$@" >"$work/$name.out" 2>&1 &
  PID=$!; PORT=""
  pids+=("$PID")
  for _ in $(seq 1 1200); do
    PORT=$(grep -m1 -oE 'Listening on [a-z]+://[^ ]*:[0-9]+' "$work/$name.out" | grep -oE '[0-9]+$') && return
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "Error: $name did not start:" >&2; cat "$work/$name.out" >&2; exit 1
}

# stop PID: stops one server and waits until it is gone (a parent may stop its workers first), so runs never overlap.
stop() {
  kill "$1" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}

# cpu_ms PID: user + system CPU time the process has used so far, in milliseconds (from /proc/PID/stat).
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000 / hz}' "/proc/$1/stat"; }

# wrk_run PID URL CONNECTIONS SECONDS: one keep-alive wrk run from one thread against the server with that pid;
# prints "requests_per_second p99_ms cpu_us_per_request" (the server's own CPU time, which moves much less than
# requests/s when other processes compete for the cores). Errors wrk counted go to stderr.
wrk_run() {
  local before after
  before=$(cpu_ms "$1")
  wrk -t1 -c"$3" -d"$4s" --latency "$2" >"$work/wrk.out"
  after=$(cpu_ms "$1")
  awk -v ms="$(awk -v a="$after" -v b="$before" 'BEGIN {print a - b}')" '/requests in/ {n=$1}
       /Requests\/sec:/ {rps=$2}
       $1=="99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; p99=v}
       /Non-2xx|Socket errors/ {err=err $0 ";"}
       END {printf "%.0f %.3f %.1f\n", rps, p99, (n > 0 ? ms * 1000 / n : 0); if (err != "") print "[bench] wrk: " err > "/dev/stderr"}' "$work/wrk.out"
}

# median: of the numbers on stdin, one per line ("nan" when there are none).
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# need COMMAND PACKAGE: installs the Debian package when the command is missing (apt-get waits for another's lock).
need() {
  command -v "$1" >/dev/null && return
  echo "[bench] installing $2 (apt-get)..." >&2
  (apt-get -o DPkg::Lock::Timeout=300 install -y -qq "$2" >/dev/null 2>&1 \
    || { apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null 2>&1 && apt-get -o DPkg::Lock::Timeout=300 install -y -qq "$2" >/dev/null; }) \
    || { echo "Error: $1 is missing and could not be installed (apt-get install $2)" >&2; exit 1; }
}

# jdk_version: the version of the JDK that ./jbang picks for the scripts.
jdk_version() {
  local home
  home=$(JBANG_LAUNCHER_VERBOSE=1 ./jbang --version 2>&1 >/dev/null | sed -nE 's/^\[launcher\] JDK //p' | head -n1)
  "$home/bin/java" -version 2>&1 | sed -nE '1s/.*"(.*)".*/\1/p'
}

# start_nginx [CPU-PINNING-PREFIX...]: nginx with its own config in $work (one worker, no access log, www/ as root,
# the same small JSON at /health as the Java servers), run under the given prefix (e.g. taskset -c 0). Sets
# NGINX_PORT and NGINX_PID (the master; its one worker does the serving) once /health answers. NGINX_CONNECTIONS
# (default 4096) is its worker_connections and open-files limit; NGINX_KEEPALIVE (default nginx's 75s) its
# keepalive_timeout.
start_nginx() {
  need nginx nginx-light
  need python3 python3
  local nginx port
  nginx=$(command -v nginx || echo /usr/sbin/nginx)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$work/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
user root;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
worker_rlimit_nofile $((${NGINX_CONNECTIONS:-4096} + 100));
events { worker_connections ${NGINX_CONNECTIONS:-4096}; }
http {
  access_log off;
  keepalive_timeout ${NGINX_KEEPALIVE:-75s};
  include /etc/nginx/mime.types;
  client_body_temp_path $work/body; proxy_temp_path $work/proxy; fastcgi_temp_path $work/fastcgi;
  uwsgi_temp_path $work/uwsgi; scgi_temp_path $work/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port;
    root $PWD/www;
    location = /health {
      default_type application/json;
      return 200 '{"status":"ok","server":"nginx","mode":"worker","port":$port,"uptime_ms":123456}';
    }
  }
}
EOF
  "$@" "$nginx" -p "$work" -c "$work/nginx.conf" 2>"$work/nginx.out" &
  NGINX_PID=$!; NGINX_PORT=$port
  pids+=("$NGINX_PID")
  for _ in $(seq 1 50); do curl -sf -o /dev/null "http://127.0.0.1:$port/health" && return; sleep 0.1; done
  echo "Error: nginx did not start:" >&2; cat "$work/nginx.out" "$work/nginx-error.log" >&2; exit 1
}

# nginx_version: e.g. nginx/1.22.1
nginx_version() { "$(command -v nginx || echo /usr/sbin/nginx)" -v 2>&1 | cut -d' ' -f3; }
