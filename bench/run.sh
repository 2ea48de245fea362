#!/bin/bash
# Runs the cio benchmark programs and their peers side by side and prints one
# table of medians with the ratio cio/peer (also written to
# <build-dir>/bench-results.txt). Builds nothing: `make bench` builds first.
#
#   bench/run.sh <build-dir> [W1 W2 W3 W4 W5 W6 W7 W8 W11 LOG]
#
# Environment:
#   BENCH_RUNS         runs of every program (default 3); the table shows medians
#   BENCH_DURATION     seconds of load per W6 (100 connections) and W11 run (default 10)
#   BENCH_DURATION_1C  seconds of the W6 1-connection run (default BENCH_DURATION / 2)
#   BENCH_W6_ALL=1     also run plain asyncio with a Protocol in W6 (not by default:
#                      time budget; uvloop with a Protocol is the W6 target peer)
#   BENCH_PYTHON       Python for the peers (default /usr/bin/python3, Debian's,
#                      where python3-uvloop/aiofiles are installed)
#   BENCH_NODE         Node.js (default /usr/bin/node)
#   BENCH_TIMEOUT      upper bound in seconds for one non-server program run (default 300)
#   BENCH_SMOKE=1      tiny sizes (--n overrides) to check the runner and programs
#                      quickly; its numbers mean nothing
#
# Each program prints `RESULT <W> <metric> <value>` lines and exits non-zero
# when its own check of the result fails. A cio program that does not exist
# is reported as "missing", a peer whose runtime is not installed as "not
# installed", a program that fails as "failed": never silently skipped.
set -u

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 <build-dir> [W1 W2 W3 W4 W5 W6 W7 W8 W11 LOG]" >&2
    exit 2
fi
BUILD=$(cd "$1" && pwd)
shift
HERE=$(cd "$(dirname "$0")" && pwd)
PEERS=$HERE/peers
CIO_BIN=$BUILD/bench
PEER_BIN=$BUILD/bench/peers
RUNS=${BENCH_RUNS:-3}
DUR=${BENCH_DURATION:-10}
DUR1C=${BENCH_DURATION_1C:-$(((DUR + 1) / 2))}
PY=${BENCH_PYTHON:-/usr/bin/python3}
NODE=${BENCH_NODE:-/usr/bin/node}
TMO=${BENCH_TIMEOUT:-300}
PIN_1C=0
[ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null && PIN_1C=1
OUT=$BUILD/bench-raw
ALL_WORKLOADS="W1 W2 W3 W4 W5 W6 W7 W8 W11 LOG"
if [ $# -gt 0 ]; then
    WORKLOADS=$(echo "$*" | tr '[:lower:]' '[:upper:]')
else
    WORKLOADS=$ALL_WORKLOADS
fi
for w in $WORKLOADS; do
    case " $ALL_WORKLOADS " in
    *" $w "*) ;;
    *)
        echo "run.sh: unknown workload $w (known: $ALL_WORKLOADS)" >&2
        exit 2
        ;;
    esac
done

rm -rf "$OUT"
mkdir -p "$OUT"
log() { echo "[bench] $*" >&2; }

# ---------------------------------------------------------------- systems
# Each workload lists its systems as "label|requirements|command"; the
# command is run with the peer directory as working directory. Requirements
# (space-separated): cio:NAME (a cio program), peer:NAME (a built C peer),
# py, py:MODULE, node, nginx, wrk, na:REASON.
py_systems() { # $1 = script, $2 = extra python modules needed
    local s=$1 mods=${2:-}
    echo "asyncio|py $mods|$PY $PEERS/$s"
    echo "uvloop|py:uvloop $mods|$PY $PEERS/$s --uvloop"
}

systems() {
    case $1 in
    W1)
        echo "cio|cio:w1_spawn|$CIO_BIN/w1_spawn"
        py_systems w1_spawn.py
        echo "node|node|$NODE $PEERS/w1_spawn.js"
        echo "memory-floor|peer:w1_floor|$PEER_BIN/w1_floor"
        ;;
    W2)
        echo "cio|cio:w2_switch|$CIO_BIN/w2_switch"
        py_systems w2_switch.py
        echo "node|node|$NODE $PEERS/w2_switch.js"
        ;;
    W3) # each command is run twice: 1,000,000 and 100,000 sleepers (see run_one)
        echo "cio|cio:w3_sleepers|$CIO_BIN/w3_sleepers"
        py_systems w3_sleepers.py
        echo "node|node|$NODE $PEERS/w3_sleepers.js"
        echo "libuv|peer:uv_w3_sleepers|$PEER_BIN/uv_w3_sleepers"
        ;;
    W4)
        echo "cio|cio:w4_lock|$CIO_BIN/w4_lock"
        py_systems w4_lock.py
        echo "node|node|$NODE $PEERS/w4_lock.js"
        ;;
    W5)
        echo "cio|cio:w5_queue|$CIO_BIN/w5_queue"
        py_systems w5_queue.py
        echo "node|node|$NODE $PEERS/w5_queue.js"
        ;;
    W6) # servers: started, loaded by echo_load, killed (see run_echo)
        echo "cio|cio:w6_echo_server peer:echo_load|$CIO_BIN/w6_echo_server"
        echo "epoll-floor|peer:epoll_echo peer:echo_load|$PEER_BIN/epoll_echo"
        echo "libuv|peer:uv_echo peer:echo_load|$PEER_BIN/uv_echo"
        echo "asyncio-streams|py peer:echo_load|$PY $PEERS/w6_echo_server.py"
        echo "uvloop-streams|py:uvloop peer:echo_load|$PY $PEERS/w6_echo_server.py --uvloop"
        if [ "${BENCH_W6_ALL:-0}" = 1 ]; then
            echo "asyncio-protocol|py peer:echo_load|$PY $PEERS/w6_echo_server.py --protocol"
        fi
        echo "uvloop-protocol|py:uvloop peer:echo_load|$PY $PEERS/w6_echo_server.py --uvloop --protocol"
        echo "node-net|node peer:echo_load|$NODE $PEERS/w6_echo_server.js"
        ;;
    W7)
        echo "cio|cio:w7_to_thread|$CIO_BIN/w7_to_thread"
        py_systems w7_to_thread.py
        echo "libuv|peer:uv_w7_queue_work|$PEER_BIN/uv_w7_queue_work"
        echo "node|na:Node cannot run a JS function on its thread pool; worker_threads message passing is not how Node code calls a trivial function|"
        ;;
    W8)
        echo "cio|cio:w8_files|$CIO_BIN/w8_files"
        echo "asyncio+aiofiles|py py:aiofiles|$PY $PEERS/w8_files.py"
        echo "uvloop+aiofiles|py:uvloop py:aiofiles|$PY $PEERS/w8_files.py --uvloop"
        echo "node-fs.promises|node|$NODE $PEERS/w8_files.js"
        echo "libuv|peer:uv_w8_files|$PEER_BIN/uv_w8_files"
        ;;
    W11) # servers: started, loaded by wrk, killed (see run_http)
        echo "cio|cio:w11_http_server wrk|$CIO_BIN/w11_http_server"
        echo "nginx|nginx wrk|nginx"
        echo "node-http|node wrk|$NODE $PEERS/w11_http_server.js"
        ;;
    LOG)
        echo "cio|cio:log_bench|$CIO_BIN/log_bench"
        echo "python-logging|py|$PY $PEERS/log_bench.py"
        ;;
    esac
}

# Prints nothing when every requirement is met, else the table cell.
check_reqs() {
    local r
    case $1 in na:*) echo "n/a: ${1#na:}"; return ;; esac
    for r in $1; do
        case $r in
        cio:*) [ -x "$CIO_BIN/${r#cio:}" ] || { echo "missing"; return; } ;;
        peer:uv_*) [ -x "$PEER_BIN/${r#peer:}" ] || { echo "not installed (libuv1-dev; ${r#peer:} not built)"; return; } ;;
        peer:*) [ -x "$PEER_BIN/${r#peer:}" ] || { echo "not built (${r#peer:})"; return; } ;;
        py) [ -x "$PY" ] || { echo "not installed ($PY)"; return; } ;;
        py:*)
            if ! [ -x "$PY" ] || ! "$PY" -c "import ${r#py:}" 2>/dev/null; then
                echo "not installed (python3-${r#py:})"
                return
            fi
            ;;
        node) [ -x "$NODE" ] || { echo "not installed (nodejs)"; return; } ;;
        nginx) command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "not installed (nginx)"; return; } ;;
        wrk) command -v wrk >/dev/null || { echo "not installed (wrk)"; return; } ;;
        esac
    done
}

# ---------------------------------------------------------------- helpers
# Below the kernel's ephemeral range (32768 up by default), so a port cannot
# be taken by some client connection between the check and the server's bind.
NEXT_PORT=$((20000 + RANDOM % 10000))
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Sets FREE_PORT (not called in a subshell, so every server gets a new port).
free_port() {
    while port_in_use $NEXT_PORT; do NEXT_PORT=$((NEXT_PORT + 1)); done
    FREE_PORT=$NEXT_PORT
    NEXT_PORT=$((NEXT_PORT + 1))
}

# mark_failed W label message: the first failure of a system is kept.
mark_failed() {
    local f="$OUT/$1/$2.failed"
    [ -f "$f" ] || echo "$3" >"$f"
    log "$1 $2: FAILED: $3"
}

SERVER_PID=""
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        # bounded: give it 5 s to exit, then kill it
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
        SERVER_PID=""
    fi
}
cleanup() {
    stop_server
    [ -n "${W8_DIR:-}" ] && rm -rf "$W8_DIR"
    [ -n "${NGINX_DIR:-}" ] && [ -f "$NGINX_DIR/nginx.pid" ] && kill "$(cat "$NGINX_DIR/nginx.pid")" 2>/dev/null
    true
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# start_server W label logfile cmd...: starts it in the background (bounded
# in time), waits up to 20 s for READY on its stdout. Returns non-zero when
# it did not come up.
start_server() {
    local w=$1 label=$2 slog=$3
    shift 3
    (cd "$PEERS" && exec timeout -k 5 $((DUR + DUR1C + 120)) "$@") >"$slog" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 200); do
        grep -q '^READY' "$slog" 2>/dev/null && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    mark_failed "$w" "$label" "server did not print READY: $(tail -c 300 "$slog" | tr '\n' ' ')"
    touch "$OUT/$w/$label.skip" # it will not come up next time either
    stop_server
    return 1
}

# ---------------------------------------------------------------- runners
SMOKE=${BENCH_SMOKE:-0}
smoke_args() {
    case $1 in
    W1 | W2 | W3 | W5 | LOG) echo "--n 10000" ;;
    W4) echo "--n 10 --rounds 100" ;;
    W7) echo "--n 1000" ;;
    W8) echo "--n 500" ;;
    esac
}

# run_plain W label run cmd...: one run of a program that prints RESULT lines.
run_plain() {
    local w=$1 label=$2 i=$3
    shift 3
    local out="$OUT/$w/$label.run$i" err="$OUT/$w/$label.err$i" rc
    local t0=$SECONDS
    if [ "$SMOKE" = 1 ]; then
        # shellcheck disable=SC2046
        (cd "$PEERS" && timeout -k 5 "$TMO" "$@" $(smoke_args "$w")) >"$out" 2>"$err"
        rc=$?
    elif [ "$w" = W3 ]; then
        (cd "$PEERS" && timeout -k 5 "$TMO" "$@") >"$out" 2>"$err"
        rc=$?
        [ $rc = 0 ] && { (cd "$PEERS" && timeout -k 5 "$TMO" "$@" --n 100000) >>"$out" 2>>"$err"; rc=$?; }
    else
        # W1 is mostly first touches of fresh memory, whose price on this
        # kind of VM depends on what ran before: see mem_settle.c
        [ "$w" = W1 ] && [ -x "$PEER_BIN/mem_settle" ] && "$PEER_BIN/mem_settle" 256
        (cd "$PEERS" && timeout -k 5 "$TMO" "$@") >"$out" 2>"$err"
        rc=$?
    fi
    if [ $rc != 0 ]; then
        local why="exit $rc"
        # a program that hung once is not given the time again
        [ $rc = 124 ] && why="timed out after ${TMO}s" && touch "$OUT/$w/$label.skip"
        mark_failed "$w" "$label" "$why: $(tail -c 300 "$err" | tr '\n' ' ')"
        rm -f "$out" # a failed run's numbers are not results
    else
        log "$w $label run $i: $(grep -c '^RESULT' "$out") results in $((SECONDS - t0))s"
    fi
}

# run_echo W6 label run cmd...: start the echo server, load it with 100
# connections for DUR seconds and with 1 connection for DUR1C seconds.
run_echo() {
    local w=$1 label=$2 i=$3
    shift 3
    local port out="$OUT/$w/$label.run$i" slog="$OUT/$w/$label.server$i"
    free_port
    port=$FREE_PORT
    start_server "$w" "$label" "$slog" "$@" --port "$port" || return
    : >"$out"
    # the server itself is timeout's child: echo_load reads its CPU time
    local spid
    spid=$(ps -o pid= --ppid "$SERVER_PID" | head -1 | tr -d ' ')
    local conns secs ok=1 pin=()
    for conns in 100 1; do
        secs=$DUR
        if [ $conns = 1 ]; then
            secs=$DUR1C
            # One connection's latency depends on whether the scheduler
            # puts server and generator on one CPU or on two (about 10
            # against 17 us, docs/benchmarks.md); pinned, every server is
            # measured in the same mode: the server (all its threads) on
            # CPU 0, the generator on CPU 1.
            if [ "$PIN_1C" = 1 ] && [ -n "$spid" ] && taskset -a -p -c 0 "$spid" >/dev/null; then
                pin=(taskset -c 1)
            fi
        fi
        if ! timeout -k 5 $((secs + 30)) "${pin[@]}" "$PEER_BIN/echo_load" --port "$port" --conns $conns \
            --seconds "$secs" --size 64 ${spid:+--server-pid "$spid"} \
            >>"$out" 2>>"$OUT/$w/$label.err$i"; then
            mark_failed "$w" "$label" "echo_load --conns $conns: $(tail -c 300 "$OUT/$w/$label.err$i" | tr '\n' ' ')"
            ok=0
            break
        fi
    done
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        mark_failed "$w" "$label" "server exited during the run: $(tail -c 300 "$slog" | tr '\n' ' ')"
        ok=0
    fi
    stop_server
    if [ $ok = 1 ]; then
        log "$w $label run $i: $(awk '{printf "%s=%s ", $3, $4}' "$out")"
    else
        rm -f "$out"
    fi
}

NGINX_DIR=""
nginx_setup() { # writes a private prefix: config, 1 KiB file, logs, temp dirs
    NGINX_DIR=$BUILD/bench-nginx
    rm -rf "$NGINX_DIR"
    mkdir -p "$NGINX_DIR/html" "$NGINX_DIR/logs" "$NGINX_DIR/tmp"
    head -c 1023 /dev/zero | tr '\0' 'x' >"$NGINX_DIR/html/index.html"
    echo >>"$NGINX_DIR/html/index.html"
    chmod -R a+rX "$NGINX_DIR"
}
nginx_conf() { # $1 = port
    cat >"$NGINX_DIR/nginx.conf" <<EOF
# generated by bench/run.sh: one worker serving a 1 KiB file on 127.0.0.1
user $(id -un) $(id -gn);
worker_processes 1;
daemon off;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $NGINX_DIR/tmp/body;
    proxy_temp_path $NGINX_DIR/tmp/proxy;
    fastcgi_temp_path $NGINX_DIR/tmp/fastcgi;
    uwsgi_temp_path $NGINX_DIR/tmp/uwsgi;
    scgi_temp_path $NGINX_DIR/tmp/scgi;
    keepalive_requests 1000000;
    default_type text/plain;
    server {
        listen 127.0.0.1:$1;
        location / { root $NGINX_DIR/html; index index.html; }
    }
}
EOF
}

# run_http W11 label run cmd...: start the HTTP server, check one response
# (200, 1 KiB body), run wrk against it, stop it.
run_http() {
    local w=$1 label=$2 i=$3
    shift 3
    local port out="$OUT/$w/$label.run$i" slog="$OUT/$w/$label.server$i" wout="$OUT/$w/$label.wrk$i"
    free_port
    port=$FREE_PORT
    if [ "$label" = nginx ]; then
        [ -n "$NGINX_DIR" ] || nginx_setup
        nginx_conf "$port"
        (exec timeout -k 5 $((DUR + 120)) nginx -p "$NGINX_DIR" -e "$NGINX_DIR/logs/error.log" \
            -c "$NGINX_DIR/nginx.conf") >"$slog" 2>&1 &
        SERVER_PID=$!
        local up=0
        for _ in $(seq 200); do
            curl -s -o /dev/null "http://127.0.0.1:$port/" && { up=1; break; }
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        if [ $up = 0 ]; then
            mark_failed "$w" "$label" "nginx did not start: $(tail -c 300 "$NGINX_DIR/logs/error.log" "$slog" 2>/dev/null | tr '\n' ' ')"
            stop_server
            return
        fi
    else
        start_server "$w" "$label" "$slog" "$@" --port "$port" || return
    fi
    local code size
    read -r code size < <(curl -s -o /dev/null -w '%{http_code} %{size_download}\n' "http://127.0.0.1:$port/")
    if [ "$code" != 200 ] || [ "$size" != 1024 ]; then
        mark_failed "$w" "$label" "GET / gave status $code with $size bytes (want 200 with 1024)"
        stop_server
        return
    fi
    timeout -k 5 $((DUR + 30)) wrk -t2 -c64 -d"${DUR}s" "http://127.0.0.1:$port/" >"$wout" 2>&1
    local rc=$?
    stop_server
    local rps non2xx
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$wout")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$wout")
    if [ $rc != 0 ] || [ -z "$rps" ]; then
        mark_failed "$w" "$label" "wrk: exit $rc: $(tail -c 300 "$wout" | tr '\n' ' ')"
    elif [ -n "$non2xx" ] && [ "$non2xx" != 0 ]; then
        mark_failed "$w" "$label" "$non2xx responses were not 2xx"
    else
        echo "RESULT W11 req_per_sec $rps" >"$out"
        log "$w $label run $i: $rps req/s"
    fi
}

# ---------------------------------------------------------------- main
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
    pinned="server on CPU 0, generator on CPU 1"
    [ "$PIN_1C" = 1 ] || pinned="not pinned (needs taskset and two CPUs)"
    echo "runs: $RUNS, W6 load: ${DUR}s with 100 connections, ${DUR1C}s with 1 ($pinned); W11: wrk -t2 -c64 -d${DUR}s"
    v=""
    [ -x "$PY" ] && v="$v python $("$PY" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null)"
    [ -x "$PY" ] && v="$v uvloop $("$PY" -c 'import uvloop; print(uvloop.__version__)' 2>/dev/null || echo -)"
    [ -x "$NODE" ] && v="$v node $("$NODE" --version 2>/dev/null | head -1)"
    v="$v libuv $(pkg-config --modversion libuv 2>/dev/null || echo -)"
    command -v nginx >/dev/null && v="$v nginx $(nginx -v 2>&1 | sed 's|.*/||')"
    command -v wrk >/dev/null && v="$v wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}')"
    echo "peers:$v"
} >"$OUT/header.txt"

# W8's programs leave their files in W8_DIR, removed only when the whole
# run is over: ext4 will not reuse an inode for a minute or more after its
# file is deleted, and new files then scan past every such inode under the
# directory lock. Deleting 10,000 files between two W8 programs made the
# next one's writes 5-15x slower, so each run measured its predecessor.
if [[ " $WORKLOADS " == *" W8 "* ]]; then
    export W8_DIR=$BUILD/bench-w8
    rm -rf "$W8_DIR" && mkdir -p "$W8_DIR"
fi

START=$SECONDS
for w in $WORKLOADS; do
    mkdir -p "$OUT/$w"
    mapfile -t SYS < <(systems "$w")
    for line in "${SYS[@]}"; do
        IFS='|' read -r label reqs cmd <<<"$line"
        echo "$label" >>"$OUT/$w/systems"
        status=$(check_reqs "$reqs")
        [ -n "$status" ] && echo "$status" >"$OUT/$w/$label.status" && log "$w $label: $status"
    done
done
# Runs are interleaved (run 1 of everything, then run 2, ...) so that a
# burst of load from elsewhere on this shared machine spreads over systems.
for i in $(seq "$RUNS"); do
    for w in $WORKLOADS; do
        mapfile -t SYS < <(systems "$w")
        for line in "${SYS[@]}"; do
            IFS='|' read -r label reqs cmd <<<"$line"
            [ -f "$OUT/$w/$label.status" ] || [ -f "$OUT/$w/$label.skip" ] && continue
            # shellcheck disable=SC2086 # the command is a word list
            case $w in
            W6) run_echo "$w" "$label" "$i" $cmd ;;
            W11) run_http "$w" "$label" "$i" $cmd ;;
            *) run_plain "$w" "$label" "$i" $cmd ;;
            esac
        done
    done
    log "pass $i of $RUNS done after $((SECONDS - START))s"
done
echo "total time: $((SECONDS - START))s" >>"$OUT/header.txt"

if [ -x "$PY" ]; then
    # shellcheck disable=SC2086 # one argument per workload
    "$PY" "$HERE/report.py" "$OUT" $WORKLOADS | tee "$BUILD/bench-results.txt"
else
    echo "run.sh: $PY is needed to print the table; raw results are in $OUT" >&2
    exit 1
fi
