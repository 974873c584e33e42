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
swift test --skip-build

if compgen -G "Tests/Interop/test_*.py" >/dev/null; then
    WSGATE_BIN="$PWD/.build/debug/wsgate" .venv/bin/pytest -q Tests/Interop
fi
