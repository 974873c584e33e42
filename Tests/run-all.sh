#!/usr/bin/env bash
# Every test: the Swift suites (unit, loopback, end-to-end), then the interop tests that drive the
# built wsgate with Python's independent `websockets` client. The README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

# The interop tests' Python packages, exactly as Tests/Interop/requirements.txt pins them. .venv
# records the checksum of the file it was built from, and is built afresh when the file changes
# (or when an earlier install did not finish), so nothing left from older pins lingers.
requirements=Tests/Interop/requirements.txt
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ "$(cat .venv/requirements.sha256 2>/dev/null)" != "$wanted" ]; then
    rm -rf .venv
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check --no-deps -r "$requirements"
    .venv/bin/pip check --disable-pip-version-check
    echo "$wanted" > .venv/requirements.sha256
fi

swift build --build-tests
# The reactor's suite counts this process's descriptors and children, so it runs in a test process
# of its own: the gateway's suites, running in parallel, open sockets and spawn programs.
swift test --skip-build --filter ReactorTests
swift test --skip-build --skip ReactorTests

if compgen -G "Tests/Interop/test_*.py" >/dev/null; then
    WSGATE_BIN="$PWD/.build/debug/wsgate" .venv/bin/pytest -q -rs Tests/Interop
fi

# A short soak: 2,000 program sessions, then no child, descriptor or memory left behind
# (Tests/Soak/programs.sh 100000 is the long run).
WSGATE_BIN="$PWD/.build/debug/wsgate" bash Tests/Soak/programs.sh 2000 16
