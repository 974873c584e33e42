#!/usr/bin/env bash
# Builds the libFuzzer targets (swiftc -sanitize=fuzzer,address) and runs each, one after the other,
# for SECONDS seconds. Exits 1 when any target finds something (a crash, a violated property, a leak,
# a timeout, running out of memory), 2 when the build fails.
#
#   Tests/Fuzz/run.sh SECONDS [TARGET...]     e.g. Tests/Fuzz/run.sh 15, Tests/Fuzz/run.sh 600 utf8
#
# The WebSocket module is compiled once from Sources/WebSocket; the Gateway pieces a target needs are
# compiled into the target itself, so they are fuzzed with their internal API and no test hooks.
# Output goes to .build-fuzz/: bin/ (the fuzzers), corpus/ (what each run added to the committed seeds
# in Tests/Fuzz/Corpus, kept between local runs), artifacts/ (inputs that found something), logs/.
# Reproduce a finding with: .build-fuzz/bin/fuzz-TARGET .build-fuzz/artifacts/TARGET/crash-…
set -euo pipefail
cd "$(dirname "$0")/../.."

usage() { echo "usage: $0 SECONDS [TARGET...]  (targets: ${ALL_TARGETS[*]})" >&2; exit 2; }

ALL_TARGETS=(connection http-handshake utf8 line-splitter command-line shared-line shared-json deflate request-path toml resp)

# The Gateway sources each target compiles in, beside its harness.
gateway_sources() {
    local shared=(Sources/Gateway/Shared/SharedProtocol.swift Sources/Gateway/Shared/SharedLineProtocol.swift
        Sources/Gateway/Shared/SharedJSONProtocol.swift Sources/Gateway/Shared/JSONValue.swift
        Tests/Fuzz/Support/GatewayMessage.swift)
    case "$1" in
    line-splitter) echo Sources/Gateway/Process/LineSplitter.swift Sources/Gateway/Process/TextLine.swift ;;
    command-line) echo Sources/Gateway/Process/CommandLine.swift ;;
    request-path) echo Sources/Gateway/HTTP/RequestPath.swift ;;
    shared-line | shared-json) echo "${shared[@]}" ;;
    toml) echo Sources/Gateway/Config/TOMLValue.swift Sources/Gateway/Config/TOMLParser.swift Sources/Gateway/Config/TOMLWriter.swift ;;
    resp) echo Sources/Gateway/Redis/RESPValue.swift Sources/Gateway/Redis/RESPDecoder.swift Sources/Gateway/Redis/RESPEncoder.swift ;;
    esac
}

# libFuzzer flags beyond the common ones.
fuzzer_flags() {
    case "$1" in
    connection) echo -max_len=8192 ;;
    http-handshake) echo -max_len=4096 -dict=Tests/Fuzz/Dictionaries/http.dict ;;
    utf8) echo -max_len=4096 ;;
    line-splitter) echo -max_len=4096 ;;
    command-line) echo -max_len=1024 -dict=Tests/Fuzz/Dictionaries/command-line.dict ;;
    request-path) echo -max_len=512 -dict=Tests/Fuzz/Dictionaries/request-path.dict ;;
    shared-line) echo -max_len=2048 -dict=Tests/Fuzz/Dictionaries/shared-line.dict ;;
    shared-json) echo -max_len=4096 -dict=Tests/Fuzz/Dictionaries/json.dict ;;
    deflate) echo -max_len=8192 -dict=Tests/Fuzz/Dictionaries/deflate.dict ;;
    toml) echo -max_len=4096 -dict=Tests/Fuzz/Dictionaries/toml.dict ;;
    resp) echo -max_len=4096 -dict=Tests/Fuzz/Dictionaries/resp.dict ;;
    esac
}

harness_name() {
    case "$1" in
    connection) echo ConnectionFuzz ;;
    http-handshake) echo HTTPHandshakeFuzz ;;
    utf8) echo UTF8ValidatorFuzz ;;
    line-splitter) echo LineSplitterFuzz ;;
    command-line) echo CommandLineFuzz ;;
    request-path) echo RequestPathFuzz ;;
    shared-line) echo SharedLineFuzz ;;
    shared-json) echo SharedJSONFuzz ;;
    deflate) echo DeflateFuzz ;;
    toml) echo TOMLFuzz ;;
    resp) echo RESPDecoderFuzz ;;
    esac
}

[ $# -ge 1 ] && [[ "$1" =~ ^[0-9]+$ ]] || usage
DURATION=$1
shift
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
for target in "${TARGETS[@]}"; do
    [[ " ${ALL_TARGETS[*]} " == *" $target "* ]] || usage
done

OUT=.build-fuzz
mkdir -p "$OUT/modules" "$OUT/bin" "$OUT/logs"
# -O: fuzz the code as it ships (Swift keeps its overflow and bounds checks at -O); -g: stacks with lines.
# -I Sources/CZlib: the WebSocket module's permessage-deflate imports the system zlib through that
# module map (which also links -lz).
SWIFTC=(swiftc -O -g -sanitize=fuzzer,address -use-ld=lld -package-name wsgate -parse-as-library -I Sources/CZlib)

echo "== building (swiftc -sanitize=fuzzer,address)"
if ! "${SWIFTC[@]}" -module-name WebSocket -wmo -emit-module -emit-module-path "$OUT/modules/WebSocket.swiftmodule" \
    -c $(find Sources/WebSocket -name '*.swift' | sort) -o "$OUT/WebSocket.o" 2>"$OUT/logs/build-WebSocket.log"; then
    cat "$OUT/logs/build-WebSocket.log" >&2
    exit 2
fi
for target in "${TARGETS[@]}"; do
    # shellcheck disable=SC2046  # word splitting of the source lists is intended
    if ! "${SWIFTC[@]}" -module-name "$(harness_name "$target")" -I "$OUT/modules" \
        Tests/Fuzz/Support/FuzzInput.swift Tests/Fuzz/Support/ReferenceUTF8.swift \
        "Tests/Fuzz/Targets/$(harness_name "$target").swift" $(gateway_sources "$target") \
        "$OUT/WebSocket.o" -o "$OUT/bin/fuzz-$target" 2>"$OUT/logs/build-$target.log"; then
        cat "$OUT/logs/build-$target.log" >&2
        exit 2
    fi
done

# The Swift backtracer would wait on a crashed fuzzer; libFuzzer and ASan print the stack themselves.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:symbolize=1}

failed=()
summary=()
for target in "${TARGETS[@]}"; do
    corpus="$OUT/corpus/$target"
    artifacts="$OUT/artifacts/$target"
    log="$OUT/logs/$target.log"
    mkdir -p "$corpus" "$artifacts"
    echo "== $target: ${DURATION}s"
    status=0
    # shellcheck disable=SC2046
    "$OUT/bin/fuzz-$target" -max_total_time="$DURATION" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" $(fuzzer_flags "$target") "$corpus" "Tests/Fuzz/Corpus/$target" \
        >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
    line=$(printf '%-15s runs %-10s exec/s %-7s cov %-6s ft %-6s corpus %-5s' \
        "$target" "${runs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")
    if [ "$status" -ne 0 ]; then
        failed+=("$target")
        line+=" FINDING (exit $status)"
        echo "-- $target found something ($log):"
        grep -E 'Fatal error|Swift runtime failure|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|SUMMARY|Test unit written' "$log" | head -20 || true
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        [ -z "$artifact" ] || echo "   reproduce: $OUT/bin/fuzz-$target $artifact"
    else
        line+=" ok"
    fi
    echo "$line"
    summary+=("$line")
done

echo "== summary (${DURATION}s per target)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "findings in: ${failed[*]} (logs and inputs in $OUT/logs and $OUT/artifacts)" >&2
    exit 1
fi
