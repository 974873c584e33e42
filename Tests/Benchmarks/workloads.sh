#!/usr/bin/env bash
# Issue 16's workloads in one run: wsgate's built-in echo against a libwebsockets echo and a
# minimal C epoll echo (the limit), one server at a time, the same load generator (wsgate bench)
# pinned to one CPU. A benchmark, not a test (CI does not run it).
#
# Ping-pong runs server and client on the same CPU (a round trip is then two context switches, not
# two cross-CPU wake-ups, which cost more than the echo itself); the other workloads leave the server
# free to run on the other CPU. For each workload and server: the rate, and the server's CPU time
# (user+system from /proc/PID/stat, all threads) over the measured window per message or per session;
# then the ratios issue 16 sets targets for. Idle: heap PSS per idle connection, keepalive on.
# CPU time per message moves with the machine's load by several percent: compare figures from one
# run, repeat surprising ones, and see instructions.sh for a count that does not move.
#
# Settings, from the environment:
#   DURATION=3s  each measured run          IDLE=1000  idle connections
#   ROUNDS=1      runs per workload and server, each figure the median of them
#   SERVERS="wsgate lws c-echo"              add wsgate-base with BASE_BIN=path for another build
#   WORKLOADS="pingpong big churn pipelined idle"
#   CLIENT_CPU=1  SERVER_CPU= (unpinned but for ping-pong; a CPU list pins it)
#   PROFILE=DIR   perf record -g the wsgate server in each run: DIR/WORKLOAD.data and its top entries
#                 in DIR/WORKLOAD.txt (a profiled run's figures are not for the table)
# Needs: swift build -c release; apt-get install libwebsockets-dev libssl-dev linux-perf (for
# PROFILE); .venv with websockets (bash Tests/run-all.sh makes it).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.build/release/wsgate
. Tests/Benchmarks/lib.sh
SERVER_BIN=${SERVER_BIN:-$BIN}  # the wsgate that serves (another build to compare); BIN is the load generator
PY=${PYTHON:-.venv/bin/python}
DURATION=${DURATION:-3s}
ROUNDS=${ROUNDS:-1}
IDLE=${IDLE:-1000}
PORT=${PORT:-19031}
SERVER_CPU=${SERVER_CPU:-}
CLIENT_CPU=${CLIENT_CPU:-1}
SERVERS=${SERVERS:-"wsgate lws c-echo"}
WORKLOADS=${WORKLOADS:-"pingpong big churn pipelined idle"}
PEERS=.build/bench-peers
LOG=${LOG:-/tmp/wsgate-workloads.log}
TICK=$(getconf CLK_TCK)
: > "$LOG"
ulimit -n 65536 2>/dev/null || true

mkdir -p "$PEERS"
for peer in c-echo:-lcrypto lws-echo:-lwebsockets; do
    name=${peer%%:*}
    if [ ! -x "$PEERS/$name" ] || [ "Tests/Benchmarks/peers/$name.c" -nt "$PEERS/$name" ]; then
        cc -O2 -o "$PEERS/$name" "Tests/Benchmarks/peers/$name.c" "${peer#*:}"
    fi
done

# Anonymous memory's PSS (the heap): a shared library's PSS changes with every other process that maps
# it meanwhile (builds and tests running beside the benchmark), which drowns 1,000 connections' share.
pss_kib() { awk '/^Pss_Anon:/ {print $2}' "/proc/$1/smaps_rollup"; }

start_server() {  # server [cpu]: wsgate (errors only), wsgate-log (the default log level), lws, c-echo
    local pin="taskset -c ${2:-$SERVER_CPU}"
    [ -n "${2:-$SERVER_CPU}" ] || pin=
    case $1 in
    wsgate) $pin $SERVER_BIN --address 127.0.0.1 --port "$PORT" --route /echo=echo \
                --loglevel error 2>>"$LOG" & ;;
    wsgate-log) $pin $SERVER_BIN --address 127.0.0.1 --port "$PORT" --route /echo=echo \
                2>>"$LOG.access" & ;;
    # Another build, to compare before and after a change in the same run: BASE_BIN=path/to/wsgate.
    wsgate-base) $pin "$BASE_BIN" --address 127.0.0.1 --port "$PORT" --route /echo=echo --loglevel error 2>>"$LOG" & ;;
    lws) $pin "$PEERS/lws-echo" "$PORT" 2>>"$LOG" & ;;
    c-echo) $pin "$PEERS/c-echo" "$PORT" 2>>"$LOG" & ;;
    esac
    SERVER=$!
    wait_until_serving "ws://127.0.0.1:$PORT/echo"
}
stop_and_clear() {
    stop_server
    rm -f "$LOG.access"
}

# Results, by "workload server": rate and CPU per unit in microseconds (or KiB for idle).
declare -A RATE COST
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
measure_once() {  # workload server bench-args...: sets RATE_ONCE and COST_ONCE
    local workload=$1 server=$2; shift 2
    start_server "$server" "$([ "$workload" = pingpong ] && echo "$CLIENT_CPU")"
    local before after json completed
    local profiler=
    if [ -n "${PROFILE:-}" ] && [ "$server" = wsgate ]; then
        mkdir -p "$PROFILE"
        perf record -q -g -F 1999 -o "$PROFILE/$workload.data" -p "$SERVER" 2>>"$LOG" &
        profiler=$!
        sleep 0.5
    fi
    before=$(cpu_ticks "$SERVER")
    json=$(taskset -c "$CLIENT_CPU" $BIN bench "ws://127.0.0.1:$PORT/echo" -d "$DURATION" --json "$@" \
        2>/dev/null) || true
    after=$(cpu_ticks "$SERVER")
    if [ -n "$profiler" ]; then
        kill -INT "$profiler"; wait "$profiler" || true
        perf report -i "$PROFILE/$workload.data" --no-children --percent-limit 0.7 --stdio -g none \
            --sort symbol 2>/dev/null | grep -v '^#' | grep -v '^$' > "$PROFILE/$workload.txt" || true
    fi
    stop_and_clear
    completed=$(echo "$json" | sed -n 's/.*"completed":\([0-9]*\).*/\1/p')
    case $json in *'"errors":[]'*) ;; *) echo "$workload/$server: errors: $json" >&2 ;; esac
    RATE_ONCE=$(echo "$json" | sed -n 's/.*"per_second":\([0-9.]*\).*/\1/p')
    COST_ONCE=$(awk -v t=$((after - before)) -v n="${completed:-0}" -v hz="$TICK" \
        'BEGIN {printf "%.2f", n ? t * 1e6 / hz / n : 0}')
}
idle() {  # server
    local server=$1 before after fifo holder
    start_server "$server"
    sleep 0.3
    before=$(pss_kib "$SERVER")
    fifo=$(mktemp -u); mkfifo "$fifo"
    taskset -c "$CLIENT_CPU" $PY Tests/Benchmarks/idle.py "ws://127.0.0.1:$PORT/echo" "$IDLE" <"$fifo" >"$fifo.out" &
    holder=$!
    exec 9>"$fifo"
    for _ in $(seq 600); do grep -q ready "$fifo.out" 2>/dev/null && break; sleep 0.1; done
    sleep 1
    after=$(pss_kib "$SERVER")
    echo "idle $server: PSS $before KiB before, $after KiB with $(ls /proc/$SERVER/fd | wc -l) descriptors open" \
        >>"$LOG"
    exec 9>&-
    wait "$holder" || true
    rm -f "$fifo" "$fifo.out"
    stop_and_clear
    RATE["idle $server"]=$IDLE
    COST["idle $server"]=$(awk -v a="$after" -v b="$before" -v n="$IDLE" 'BEGIN {printf "%.2f", (a - b) / n}')
}

declare -A ARGS=(
    [pingpong]="-c 1 -p 1 -s 32"
    [big]="-c 8 -p 4 -s 64KiB --binary"
    [churn]="-c 16 --churn"
    [pipelined]="-c 64 -p 16 -s 32"
)
declare -A TITLE=(
    [pingpong]="1 conn ping-pong, 32 B"
    [big]="8 conns x 4 in flight, 64 KiB binary"
    [churn]="connect churn, 16 at once"
    [pipelined]="64 conns x 16 in flight, 32 B"
    [idle]="idle connections, keepalive on"
)
echo "# $(date -u +%FT%TZ) $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start;" \
     "client on CPU $CLIENT_CPU, server on ${SERVER_CPU:-any CPU} (ping-pong: CPU $CLIENT_CPU)," \
     "$DURATION per run, median of $ROUNDS"
for workload in $WORKLOADS; do
    servers=$SERVERS
    if [ "$workload" = churn ] && [[ " $SERVERS " == *" wsgate "* ]]; then servers="$SERVERS wsgate-log"; fi
    if [ "$workload" = idle ]; then
        for server in $servers; do idle "$server"; done
        continue
    fi
    # Rounds go over every server in turn, so that a burst of load elsewhere costs them alike.
    declare -A RATES=() COSTS=()
    for round in $(seq "$ROUNDS"); do
        for server in $servers; do
            measure_once "$workload" "$server" ${ARGS[$workload]}
            RATES[$server]+="$RATE_ONCE "; COSTS[$server]+="$COST_ONCE "
        done
    done
    for server in $servers; do
        RATE["$workload $server"]=$(echo "${RATES[$server]}" | median)
        COST["$workload $server"]=$(echo "${COSTS[$server]}" | median)
    done
done
echo "# load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"

ratio() {
    awk -v a="${COST[$1]:-0}" -v b="${COST[$2]:-0}" 'BEGIN {if (a > 0 && b > 0) printf "%.2f", a / b; else printf "-"}'
}
printf '| %-37s | %-20s |' workload "unit"
for server in $SERVERS; do printf ' %-22s |' "$server"; done
printf ' wsgate/c-echo | wsgate/lws |\n'
printf '|%s|%s|' "$(printf -- '-%.0s' {1..39})" "$(printf -- '-%.0s' {1..22})"
for _ in $SERVERS; do printf '%s|' "$(printf -- '-%.0s' {1..24})"; done
printf -- '---|---|\n'
for workload in $WORKLOADS; do
    rows=wsgate
    if [ "$workload" = churn ]; then rows="wsgate wsgate-log"; fi
    for row in $rows; do
        title=${TITLE[$workload]}
        [ "$row" = wsgate-log ] && title="$title (wsgate logging 2 lines)"
        if [ "$workload" = idle ]; then unit="KiB PSS per conn"; elif [ "$workload" = churn ]; then
            unit="sessions/s, us CPU"; else unit="msg/s, us CPU/msg"; fi
        printf '| %-37s | %-20s |' "$title" "$unit"
        for server in $SERVERS; do
            s=$server; [ "$server" = wsgate ] && s=$row
            if [ "$workload" = idle ]; then cell="${COST["$workload $s"]:--}"
            else cell=$(printf '%.0f, %s' "${RATE["$workload $s"]:-0}" "${COST["$workload $s"]:--}"); fi
            printf ' %-22s |' "$cell"
        done
        printf ' %-13s | %-10s |\n' "$(ratio "$workload $row" "$workload c-echo")" \
            "$(ratio "$workload $row" "$workload lws")"
    done
done
