#!/usr/bin/env bash
# Checks that `debrief process` gives byte-identical output before and after a change.
#
#   scripts/check-process-identical.sh --record [--rev REV] [--release] [--bin PATH]
#   scripts/check-process-identical.sh [--rev REV] [--release] [--bin PATH]
#
# Runs `debrief process` over every input file of ../shared/eval/ (or $DEBRIEF_EVAL_DIR) and
# examples/, each twice: without a tenant configuration, and with examples/tenant.yaml, a start
# time and a time zone (trackers, tenant sides, due dates). `--record` saves stdout, the exit
# status and stderr (the run time in its last line masked) into the baseline directory
# ($DEBRIEF_PROCESS_BASELINE, default /work/notes/baseline-process: outside the repository);
# without it, the same runs are compared with the baseline byte for byte and every difference
# is listed. Exit status: 0 identical, 1 different, 2 usage or build error.
#
# The binary: `--bin PATH`, or built from the working tree, or from revision `--rev REV`
# (a temporary git worktree, same CARGO_TARGET_DIR), as a debug build unless `--release`.
# The debug build takes about 12 s over the whole data on a 2-core machine.
#
# Files that `process` cannot read at all (no `segments`: email_intent_en_train.jsonl and
# pii_multilingual_dev.jsonl are sentence-level data) are skipped, and listed as skipped.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EVAL_DIR="${DEBRIEF_EVAL_DIR:-$ROOT/../shared/eval}"
[ -d "$EVAL_DIR" ] || EVAL_DIR=/work/shared/eval
BASELINE="${DEBRIEF_PROCESS_BASELINE:-/work/notes/baseline-process}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

record=0
rev=""
profile=debug
bin=""
while [ $# -gt 0 ]; do
    case "$1" in
        --record) record=1 ;;
        --rev) rev="$2"; shift ;;
        --release) profile=release ;;
        --bin) bin="$2"; shift ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

cargo_flags=(--bin debrief)
[ "$profile" = release ] && cargo_flags+=(--release)

if [ -z "$bin" ]; then
    if [ -n "$rev" ]; then
        work="$(mktemp -d)"
        trap 'git -C "$ROOT" worktree remove --force "$work/src" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
        git -C "$ROOT" worktree add --detach "$work/src" "$rev" >/dev/null 2>&1 \
            || { echo "cannot check out $rev" >&2; exit 2; }
        (cd "$work/src" && CARGO_TARGET_DIR="$TARGET_DIR" cargo build -q "${cargo_flags[@]}") \
            || { echo "build of $rev failed" >&2; exit 2; }
        cp "$TARGET_DIR/$profile/debrief" "$work/debrief"
        bin="$work/debrief"
    else
        (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET_DIR" cargo build -q "${cargo_flags[@]}") \
            || { echo "build failed" >&2; exit 2; }
        bin="$TARGET_DIR/$profile/debrief"
    fi
fi

inputs=()
for f in "$EVAL_DIR"/*.jsonl "$EVAL_DIR"/*.json "$EVAL_DIR"/*.vtt \
         "$ROOT"/examples/*.jsonl "$ROOT"/examples/*.json "$ROOT"/examples/*.vtt; do
    [ -f "$f" ] && inputs+=("$f")
done

# `process` reads a .jsonl file when its lines are conversations (they have `segments`).
readable() {
    case "$1" in
        *.jsonl) head -n 1 "$1" | grep -q '"segments"' ;;
        *) return 0 ;;
    esac
}

run_one() { # name variant args... -> writes $out/$name.$variant.{out,err,rc}
    local name="$1" variant="$2" dir="$3"
    shift 3
    local rc=0
    "$bin" process --no-progress "$@" >"$dir/$name.$variant.out" 2>"$dir/$name.$variant.err" || rc=$?
    echo "$rc" >"$dir/$name.$variant.rc"
    # The summary line ends with the run time: the only part that may differ between runs.
    sed -i -E 's/ in [0-9]+\.[0-9]+s$/ in <time>s/' "$dir/$name.$variant.err"
}

if [ "$record" = 1 ]; then
    out="$BASELINE"
    rm -rf "$out"
    mkdir -p "$out"
else
    [ -d "$BASELINE" ] || { echo "no baseline in $BASELINE: run with --record first" >&2; exit 2; }
    out="$(mktemp -d)"
fi

started=$SECONDS
skipped=()
ran=0
for f in "${inputs[@]}"; do
    name="$(basename "$(dirname "$f")")__$(basename "$f")"
    if ! readable "$f"; then
        skipped+=("$f")
        continue
    fi
    run_one "$name" plain "$out" "$f"
    run_one "$name" tenant "$out" --config "$ROOT/examples/tenant.yaml" \
        --started-at 2026-11-16T15:00:00+00:00 --time-zone Europe/London "$f"
    ran=$((ran + 1))
done

for s in "${skipped[@]}"; do
    echo "skipped (process cannot read it: no \`segments\`): $s"
done
if [ "$record" = 1 ]; then
    echo "baseline recorded in $out: $ran file(s) x 2 runs, $((SECONDS - started)) s ($bin)"
    exit 0
fi

status=0
if ! diff -rq "$BASELINE" "$out" >/dev/null; then
    status=1
    diff -rq "$BASELINE" "$out" || true
fi
if [ "$status" = 0 ]; then
    rm -rf "$out"
    echo "identical: $ran file(s) x 2 runs, $((SECONDS - started)) s ($bin)"
else
    echo "DIFFERENT from the baseline in $BASELINE (this run's output: $out)" >&2
fi
exit "$status"
