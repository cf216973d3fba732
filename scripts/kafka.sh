#!/usr/bin/env bash
# A real Apache Kafka 4 broker for tests: single-node KRaft, loopback only, small heap.
#
#   scripts/kafka.sh classpath            resolve the pinned jars (once); print the classpath file
#   scripts/kafka.sh start DIR [PID]      format DIR (first time), start a broker on free ports,
#                                         wait until it answers; print BROKERS=, PID= and LOG=.
#                                         With PID, a watchdog stops the broker when PID exits.
#                                         Starting an existing DIR again reuses its storage and ports.
#   scripts/kafka.sh stop DIR             stop the broker of DIR (TERM, then KILL after 20 s)
#
# The jars come from Maven Central through scripts/kafka/pom.xml (Apache Kafka, Kafka Connect,
# Log4j 2), into a local repository under target/kafka/m2; the resolved classpath is cached
# in target/kafka/classpath.txt and reused while the pom is unchanged.
#
# Environment: CARGO_TARGET_DIR (as for cargo), DEBRIEF_KAFKA_HEAP (default 512m).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
KAFKA_DIR="$TARGET_DIR/kafka"
POM="$ROOT/scripts/kafka/pom.xml"
LOG4J="$ROOT/scripts/kafka/log4j2.properties"
HEAP="${DEBRIEF_KAFKA_HEAP:-512m}"

die() {
    printf 'kafka.sh: %s\n' "$*" >&2
    exit 1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Prints the path of the classpath file, resolving the jars first when the pom changed.
classpath() {
    command -v java >/dev/null || die "java is required (Java 17 or later)"
    command -v mvn >/dev/null || die "mvn is required (Maven 3.8 or later)"
    local file="$KAFKA_DIR/classpath.txt" stamp="$KAFKA_DIR/classpath.pom.sha256" sum
    sum="$(sha256sum "$POM" | cut -d' ' -f1)"
    if [ -s "$file" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ] && all_jars_exist "$file"; then
        echo "$file"
        return 0
    fi
    mkdir -p "$KAFKA_DIR"
    echo "resolving Apache Kafka jars from Maven Central into $KAFKA_DIR/m2 (first run only)" >&2
    mvn -q -B -Dstyle.color=never -f "$POM" -Dmaven.repo.local="$KAFKA_DIR/m2" \
        dependency:build-classpath -Dmdep.outputFile="$file.tmp" >&2 ||
        die "Maven could not resolve $POM (is Maven Central reachable?)"
    mv "$file.tmp" "$file"
    echo "$sum" >"$stamp"
    echo "$file"
}

all_jars_exist() {
    local jar
    while IFS= read -r -d ':' jar; do
        [ -f "$jar" ] || return 1
    done < <(tr -d '\n' <"$1"; printf ':')
}

java_cp() {
    java -Xmx256m -Dlog4j2.configurationFile="$LOG4J" -cp "$(cat "$(classpath)")" "$@"
}

write_config() {
    local dir="$1" port controller
    port="$(free_port)"
    controller="$(free_port)"
    while [ "$controller" = "$port" ]; do controller="$(free_port)"; done
    cat >"$dir/server.properties" <<CONF
# Single-node KRaft test broker written by scripts/kafka.sh.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=4
# One broker: every internal topic has one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# A lone consumer's join completes at once (the default waits 3 s for more members).
group.initial.rebalance.delay.ms=0
# Tests create their topics; a producer to a missing one still gets it (as in most clusters).
auto.create.topics.enable=true
# The cleaner looks for work every second, so compaction tests with aggressive topic
# settings (segment.ms, min.cleanable.dirty.ratio, delete.retention.ms) finish quickly.
log.cleaner.backoff.ms=1000
log.retention.check.interval.ms=5000
log.initial.task.delay.ms=1000
CONF
}

# Seconds to wait for the broker to answer.
READY_WAIT=90

start() {
    local dir="${1:?usage: kafka.sh start DIR [PID]}" watch="${2:-}" cp_file port pid
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    cp_file="$(classpath)"
    if [ ! -f "$dir/server.properties" ]; then
        write_config "$dir"
        local cluster
        cluster="$(java_cp kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
        java_cp kafka.tools.StorageTool format --standalone -t "$cluster" \
            -c "$dir/server.properties" >"$dir/format.log" 2>&1 ||
            { cat "$dir/format.log" >&2; die "formatting $dir failed"; }
    fi
    port="$(sed -n 's/^advertised.listeners=PLAINTEXT:\/\/127.0.0.1:\([0-9]*\)$/\1/p' "$dir/server.properties")"
    [ -n "$port" ] || die "$dir/server.properties has no PLAINTEXT listener"
    if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
        die "a broker of $dir is already running (pid $(cat "$dir/pid"))"
    fi
    # Readiness is read from the lines this start appends to the log, not an earlier run's.
    local from=0
    [ -f "$dir/broker.log" ] && from="$(wc -l <"$dir/broker.log")"
    # setsid: the broker is not in the caller's process group, so a Ctrl-C or a test
    # harness's group kill reaches it only through stop() (the trap) or the watchdog.
    setsid java -Xms128m -Xmx"$HEAP" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dlog4j2.configurationFile="$LOG4J" \
        -cp "$(cat "$cp_file")" kafka.Kafka "$dir/server.properties" \
        >>"$dir/broker.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$dir/pid"
    if [ -n "$watch" ]; then
        # Stops the broker when the watched process ends, even by SIGKILL (no trap runs).
        (
            trap '' INT TERM HUP
            while kill -0 "$watch" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 2; done
            kill "$pid" 2>/dev/null
            sleep 20
            kill -9 "$pid" 2>/dev/null
        ) </dev/null >/dev/null 2>&1 &
        disown
    fi
    local deadline=$((SECONDS + READY_WAIT))
    while [ $SECONDS -lt $deadline ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 40 "$dir/broker.log" >&2
            die "the broker exited during start-up (log: $dir/broker.log)"
        fi
        # Ready once the server says it started and its listener accepts connections.
        if tail -n +"$((from + 1))" "$dir/broker.log" 2>/dev/null | grep -q "Kafka Server started" &&
            (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "BROKERS=127.0.0.1:$port"
            echo "PID=$pid"
            echo "LOG=$dir/broker.log"
            return 0
        fi
        sleep 0.3
    done
    tail -n 40 "$dir/broker.log" >&2
    kill "$pid" 2>/dev/null || true
    die "the broker did not answer within ${READY_WAIT}s (log: $dir/broker.log)"
}

stop() {
    local dir="${1:?usage: kafka.sh stop DIR}" pid i
    [ -f "$dir/pid" ] || return 0
    pid="$(cat "$dir/pid")"
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for i in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "kafka.sh: broker $pid still running after 20 s; killing it" >&2
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$dir/pid"
}

case "${1:-}" in
classpath) classpath ;;
start) shift; start "$@" ;;
stop) shift; stop "$@" ;;
*) die "usage: kafka.sh classpath | start DIR [PID] | stop DIR" ;;
esac
