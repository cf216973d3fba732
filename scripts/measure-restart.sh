#!/usr/bin/env bash
# Measures how long a `debrief run` restarted right after `kill -9` waits for its partitions,
# with static group membership (group.instance.id) and without, against a real broker.
#
#   scripts/measure-restart.sh HOST:PORT [path/to/debrief]
#
# Needs Java and the Kafka jars of scripts/kafka.sh (to create the topic). Prints one line
# per case; the README's figure comes from it.
set -euo pipefail
BROKERS="${1:?usage: measure-restart.sh HOST:PORT [debrief binary]}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${2:-$ROOT/target/debug/debrief}"
CP="$(cat "$("$ROOT/scripts/kafka.sh" classpath)")"
LOGS="$(mktemp -d)"
PIDS=()
trap 'kill -9 "${PIDS[@]}" 2>/dev/null || true; rm -rf "$LOGS"' EXIT

start() { # $1 log, $2 group, $3 topic, $4 instance id or empty
    : >"$1"
    env DEBRIEF__KAFKA__BROKERS="$BROKERS" DEBRIEF__KAFKA__GROUP_ID="$2" \
        DEBRIEF__KAFKA__TOPICS__TRANSCRIPTS="$3" DEBRIEF__HTTP__LISTEN=127.0.0.1:0 \
        ${4:+DEBRIEF__KAFKA__OPTIONS__GROUP_INSTANCE_ID=$4} \
        DEBRIEF__KAFKA__OPTIONS__SESSION_TIMEOUT_MS=45000 RUST_LOG=debrief=info \
        "$BIN" run >"$1" 2>&1 &
    PIDS+=($!)
    LAST=$!
}
seconds_until_assigned() {
    local t0 now
    t0=$(date +%s%N)
    until grep -q "partitions assigned" "$1"; do sleep 0.05; done
    now=$(date +%s%N)
    echo "scale=2; ($now - $t0) / 1000000000" | bc
}
for mode in static dynamic; do
    group="measure-restart-$mode-$RANDOM$RANDOM"
    topic="measure-restart-$mode-$RANDOM$RANDOM"
    id=""
    [ "$mode" = static ] && id="instance-a"
    java -cp "$CP" org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKERS" \
        --create --topic "$topic" --partitions 4 >/dev/null 2>&1
    start "$LOGS/first.log" "$group" "$topic" "$id"
    echo "$mode membership: first start assigned after $(seconds_until_assigned "$LOGS/first.log") s"
    sleep 3
    kill -9 "$LAST"
    start "$LOGS/second.log" "$group" "$topic" "$id"
    echo "$mode membership: restart after kill -9 assigned after $(seconds_until_assigned "$LOGS/second.log") s (session.timeout.ms 45000)"
    kill -TERM "$LAST"
    wait "$LAST" 2>/dev/null || true
done
