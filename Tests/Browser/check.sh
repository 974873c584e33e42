#!/usr/bin/env bash
# Real-browser check, run by hand (Chromium is too heavy for CI): headless Chromium opens
# page.html, which exercises wsgate over WebSocket (echo up to 1 MiB, binary, UTF-8, broadcast,
# program routes, close codes) and reports each result back over a /report program route.
# Installs Chromium and builds wsgate for release when missing. Exits 1 if any check failed.
#
# wsgate listens on a port the kernel picks (--port 0, or PORT=N to choose one), read from its
# own start-up log. Only the processes started here are stopped, by their ids: wsgate, and
# Chromium's whole process group (it runs in a session of its own, so its helpers go with it).
set -euo pipefail
cd "$(dirname "$0")/../.."
# A fresh machine has no browser: install Debian's Chromium (and the release build) when missing.
if ! command -v chromium >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
[ -x .build/release/wsgate ] || swift build -c release --product wsgate
OUT=$(mktemp -d)
SERVER='' BROWSER=''
stop() {
    [ -n "$BROWSER" ] && kill -TERM -- "-$BROWSER" 2>/dev/null || true
    [ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap stop EXIT

.build/release/wsgate --address 127.0.0.1 --port "${PORT:-0}" --route /echo=echo --route '/chat/*=broadcast' \
    --route '/count=./handlers/count --to 3 --pause 0.05' --route /fail=./handlers/fail \
    --route "/report=sh -c 'cat > $OUT/report.txt'" 2>"$OUT/wsgate.log" &
SERVER=$!
port=''
for _ in $(seq 100); do
    port=$(grep -oE '127\.0\.0\.1:[0-9]+' "$OUT/wsgate.log" | head -n 1 | cut -d: -f2 || true)
    [ -n "$port" ] && break
    kill -0 "$SERVER" 2>/dev/null || { echo "wsgate did not start:"; cat "$OUT/wsgate.log"; exit 1; }
    sleep 0.1
done
[ -n "$port" ] || { echo "wsgate did not say its port (log: $OUT/wsgate.log)"; exit 1; }

setsid timeout 60 chromium --headless=new --no-sandbox --disable-gpu \
    "file://$PWD/Tests/Browser/page.html#$port" >/dev/null 2>&1 &
BROWSER=$!
for _ in $(seq 120); do [ -s "$OUT/report.txt" ] && break; sleep 0.5; done
sleep 0.5
[ -s "$OUT/report.txt" ] || { echo "no report from the browser (log: $OUT/wsgate.log)"; exit 1; }
cat "$OUT/report.txt"; echo
pass=$(grep -c '^PASS' "$OUT/report.txt" || true); fail=$(grep -c '^FAIL' "$OUT/report.txt" || true)
echo "browser: $pass passed, $fail failed"
[ "$fail" = 0 ]
