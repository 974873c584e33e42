# What the benchmark scripts share. Source it from the repository root after setting BIN (the
# wsgate that runs `bench`, the load generator); a script's own server is in SERVER.

# Clock ticks of CPU time a process used: user+system, and with its reaped children's too.
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
cpu_ticks_with_children() { awk '{print $14+$15+$16+$17}' "/proc/$1/stat"; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# wait_until_serving URL [bench options...]: returns once one round trip through URL succeeds;
# exits the script after WAIT_SECONDS (5) without one.
wait_until_serving() {
    local url=$1; shift
    for _ in $(seq $((${WAIT_SECONDS:-5} * 10))); do
        if $BIN bench "$@" "$url" -n 1 >/dev/null 2>&1; then return; fi
        sleep 0.1
    done
    echo "no server answered at $url" >&2
    exit 1
}

stop_server() {
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
}
