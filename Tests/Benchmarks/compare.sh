#!/usr/bin/env bash
# Side-by-side echo benchmarks: wsgate (built-in echo), websocketd (cat) and node ws, one after the
# other in the same run, driven by the same load generator (wsgate bench). A benchmark, not a test.
# Prints messages/s and the server's CPU time per message (user+system from /proc, children
# included once reaped), and RSS per idle connection over 1,000 connections.
# Needs: swift build -c release; apt-get install websocketd node-ws; .venv with websockets.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.build/release/wsgate
. Tests/Benchmarks/lib.sh
PY=${PYTHON:-.venv/bin/python}
DURATION=${DURATION:-5s}
PORT=${PORT:-19001}
TICK=$(getconf CLK_TCK)
ulimit -n 65536 2>/dev/null || true

LOG=${LOG:-/tmp/wsgate-compare.log}
: > "$LOG"
start_server() {  # server [binary]
    case $1 in
    wsgate) $BIN --address 127.0.0.1 --port "$PORT" --route /echo=echo --loglevel error --ping-interval 0 \
                --max-message-size 16MiB 2>>"$LOG" & ;;
    # The same with the metrics registry counting (SERVERS="wsgate wsgate-metrics" for the cost of --metrics).
    wsgate-metrics) $BIN --address 127.0.0.1 --port "$PORT" --route /echo=echo --loglevel error --ping-interval 0 \
                --max-message-size 16MiB --metrics 2>>"$LOG" & ;;
    # websocketd's line mode never echoes binary data without newlines: give it --binary for that case.
    websocketd) websocketd --address 127.0.0.1 --port "$PORT" --loglevel error ${2:+--binary=true} cat >>"$LOG" 2>&1 & ;;  # it logs to stdout
    node-ws) node Tests/Benchmarks/node-ws-echo.js "$PORT" 2>>"$LOG" & ;;
    esac
    SERVER=$!
    wait_until_serving "ws://127.0.0.1:$PORT/echo"
}
run_case() {  # name server bench-args...
    local name=$1 server=$2; shift 2
    local binary=""
    case " $* " in *" --binary "*) binary=1 ;; esac
    start_server "$server" $binary
    local before after json completed per_second cpu_us bench_cpu
    before=$(cpu_ticks_with_children "$SERVER")
    local timing; timing=$(mktemp)
    json=$( { TIMEFORMAT='%U %S'; time $BIN bench "ws://127.0.0.1:$PORT/echo" -d "$DURATION" --json "$@" 2>/dev/null; } 2>"$timing")
    bench_cpu=$(tail -n 1 "$timing" | awk '{print $1 + $2}'); rm -f "$timing"
    sleep 0.5  # let websocketd reap its cat children so their CPU is counted
    after=$(cpu_ticks_with_children "$SERVER")
    stop_server
    completed=$(echo "$json" | sed 's/.*"completed":\([0-9]*\).*/\1/')
    per_second=$(echo "$json" | sed 's/.*"per_second":\([0-9.]*\).*/\1/')
    p50=$(echo "$json" | sed 's/.*"p50":\([0-9]*\).*/\1/')
    p99=$(echo "$json" | sed 's/.*"p99":\([0-9]*\).*/\1/')
    cpu_us=$(awk -v t=$((after - before)) -v n="$completed" -v hz="$TICK" 'BEGIN {printf "%.2f", t * 1e6 / hz / n}')
    bench_us=$(awk -v s="$bench_cpu" -v n="$completed" 'BEGIN {printf "%.2f", s * 1e6 / n}')
    printf '%-34s %-11s %10.0f msg/s  server %8s us CPU/msg  (load generator %s)  p50=%sus p99=%sus\n' \
        "$name" "$server" "$per_second" "$cpu_us" "$bench_us" "$p50" "$p99"
}
idle_case() {
    local server=$1 count=${IDLE:-1000}
    start_server "$server"
    local before after fifo
    before=$(rss_kib "$SERVER")
    fifo=$(mktemp -u); mkfifo "$fifo"
    $PY Tests/Benchmarks/idle.py "ws://127.0.0.1:$PORT/echo" "$count" < "$fifo" > "$fifo.out" &
    local holder=$!
    exec 9>"$fifo"
    for _ in $(seq 300); do grep -q ready "$fifo.out" 2>/dev/null && break; sleep 0.1; done
    sleep 0.5
    after=$(rss_kib "$SERVER")
    local children_kib=0
    if [ "$server" = websocketd ]; then
        children_kib=$(for c in $(pgrep -P "$SERVER"); do awk '/^Pss:/ {s+=$2} END {print s+0}' /proc/$c/smaps_rollup 2>/dev/null || echo 0; done | awk '{s+=$1} END {print s+0}')
    fi
    exec 9>&-
    wait $holder || true
    rm -f "$fifo" "$fifo.out"
    stop_server
    awk -v a="$after" -v b="$before" -v n="$count" -v c="$children_kib" -v s="$server" \
        'BEGIN {printf "%-34s %-11s %8.2f KiB RSS/conn (server process)%s\n", "idle memory, " n " connections", s, (a-b)/n, (c>0 ? sprintf(" + %.1f KiB PSS/conn in cat children", c/n) : "")}'
}

SERVERS=${SERVERS:-"wsgate websocketd node-ws"}
for server in $SERVERS; do run_case "1 conn ping-pong 32 B" "$server" -c 1 -p 1 -s 32; done
for server in $SERVERS; do run_case "64 conns x 16 in flight, 32 B" "$server" -c 64 -p 16 -s 32; done
for server in $SERVERS; do run_case "8 conns x 4 in flight, 64 KiB bin" "$server" -c 8 -p 4 -s 64KiB --binary; done
for server in $SERVERS; do idle_case "$server"; done
