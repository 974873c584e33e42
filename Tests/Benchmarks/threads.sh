#!/usr/bin/env bash
# The echo workload (64 connections x 16 in flight x 32 B) against wsgate with --threads 1 and
# --threads 2 (THREADS="1 2 4" for others), one after the other in the same run. A benchmark, not
# a test. Prints messages/s and the server's CPU time per message (user+system from /proc).
# On a machine with fewer cores than loops plus the load generator, they share the cores: the
# figures then show the cost of the threads, not the gain.
# Needs: swift build -c release. BIN=path/to/wsgate to measure another build.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.build/release/wsgate}
. Tests/Benchmarks/lib.sh
DURATION=${DURATION:-5s}
PORT=${PORT:-19011}
TICK=$(getconf CLK_TCK)
printf '%-8s %12s %16s %14s\n' threads messages/s server_us/msg bench_us/msg
# THREADS entries are loop counts; 0 runs without the flag (a build from before it existed).
for count in ${THREADS:-1 2}; do
    threads=$([ "$count" = 0 ] || echo "--threads $count")
    $BIN --address 127.0.0.1 --port "$PORT" --route /echo=echo --loglevel error --ping-interval 0 \
        $threads 2>/dev/null &
    SERVER=$!
    wait_until_serving "ws://127.0.0.1:$PORT/echo"
    before=$(cpu_ticks "$SERVER")
    timing=$(mktemp)
    json=$( { TIMEFORMAT='%U %S'; time $BIN bench "ws://127.0.0.1:$PORT/echo" -c 64 -p 16 -s 32 -d "$DURATION" --json 2>/dev/null; } 2>"$timing")
    after=$(cpu_ticks "$SERVER")
    bench_cpu=$(tail -n 1 "$timing" | awk '{print $1 + $2}'); rm -f "$timing"
    stop_server
    completed=$(echo "$json" | sed -n 's/.*"completed":\([0-9]*\).*/\1/p')
    per_second=$(echo "$json" | sed -n 's/.*"per_second":\([0-9.]*\).*/\1/p')
    server_us=$(awk -v t=$((after - before)) -v k="$TICK" -v n="$completed" 'BEGIN {printf "%.2f", t / k * 1e6 / n}')
    bench_us=$(awk -v s="$bench_cpu" -v n="$completed" 'BEGIN {printf "%.2f", s * 1e6 / n}')
    printf '%-8s %12s %16s %14s\n' "$count" "$per_second" "$server_us" "$bench_us"
done
