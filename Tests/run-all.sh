#!/usr/bin/env bash
# Every test: the Swift suites (unit, loopback, end-to-end), then the interop tests that drive the
# built wsgate with Python's independent `websockets` client. The README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/pytest ] || ! .venv/bin/python -c 'import websockets' 2>/dev/null; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check websockets pytest
fi

swift build --build-tests
# The reactor's suite counts this process's descriptors and children, so it runs in a test process
# of its own: the gateway's suites, running in parallel, open sockets and spawn programs.
swift test --skip-build --filter ReactorTests
swift test --skip-build --skip ReactorTests

if compgen -G "Tests/Interop/test_*.py" >/dev/null; then
    WSGATE_BIN="$PWD/.build/debug/wsgate" .venv/bin/pytest -q Tests/Interop
fi
