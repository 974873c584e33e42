#!/usr/bin/env bash
# Memory per idle compressed connection, for each compression setting: wsgate's RSS growth over
# IDLE (default 1000) connections that each sent and received three ~400-byte text messages with
# Python websockets' default offer (permessage-deflate; client_max_window_bits), then went idle.
# MESSAGES=100 sends 100 each (40 KiB, enough to fill a 32 KiB window): the worst case.
# A benchmark, not a test. Needs: swift build -c release --product wsgate; .venv with websockets.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.build/release/wsgate
. Tests/Benchmarks/lib.sh
PY=${PYTHON:-.venv/bin/python}
PORT=${PORT:-19011}
COUNT=${IDLE:-1000}
ulimit -n 65536 2>/dev/null || true

measure() {  # label flags...
    local label=$1; shift
    $BIN --address 127.0.0.1 --port "$PORT" --route /echo=echo --loglevel error --ping-interval 0 "$@" &
    local server=$!
    wait_until_serving "ws://127.0.0.1:$PORT/echo"
    local before after fifo
    before=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
    fifo=$(mktemp -u); mkfifo "$fifo"
    $PY Tests/Benchmarks/deflate-idle.py "ws://127.0.0.1:$PORT/echo" "$COUNT" "${MESSAGES:-3}" < "$fifo" > "$fifo.out" &
    local holder=$!
    exec 9>"$fifo"
    for _ in $(seq 600); do grep -q ready "$fifo.out" 2>/dev/null && break; sleep 0.1; done
    sleep 0.5
    after=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
    exec 9>&-
    wait $holder || true
    rm -f "$fifo" "$fifo.out"
    kill "$server"; wait "$server" 2>/dev/null || true
    awk -v a="$after" -v b="$before" -v n="$COUNT" -v l="$label" 'BEGIN {printf "%-78s %7.1f KiB/conn\n", l, (a-b)/n}'
}

measure "no compression"
measure "--compression (default)" --compression
measure "--compression --compression-client-window-bits 10" --compression --compression-client-window-bits 10
measure "--compression --compression-client-no-context-takeover" --compression --compression-client-no-context-takeover
measure "--compression --compression-context-takeover" --compression --compression-context-takeover
measure "--compression --compression-context-takeover --compression-window-bits 10" \
    --compression --compression-context-takeover --compression-window-bits 10
measure "--compression --compression-context-takeover --compression-window-bits 10 --compression-memory-level 3" \
    --compression --compression-context-takeover --compression-window-bits 10 --compression-memory-level 3
