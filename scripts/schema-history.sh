#!/usr/bin/env bash
# Regenerates schemas/history/ from git: every PREVIOUS version of each schema of the codec
# (schemas/<name>.avsc, as committed in any commit of the history), deduplicated by the
# CRC-64-AVRO fingerprint of its Parsing Canonical Form, written as
#   schemas/history/<name>/<16 hex digits of the fingerprint>.avsc
# with the text of the oldest commit that has that fingerprint. The version in the working
# tree (the current schema) is never written: the codec reads it directly. Debrief compiles
# the directory in (src/schema/history.rs), so a reader accepts records written with any
# earlier version of a schema (single-object encoding), not only the current one.
#
#   scripts/schema-history.sh           regenerate (idempotent: a second run changes nothing)
#   scripts/schema-history.sh --check   exit 1, listing the difference, when schemas/history/
#                                       is not what git says (for CI and before a release)
#
# When to run it: after changing a schemas/*.avsc, before committing (the version in HEAD is
# then a previous one). A release needs no step of its own: its schemas are committed, so the
# next change to a schema followed by this script adds them; `--check` before tagging makes
# sure nothing is missing. To drop a version on purpose (an incompatible change, which the
# contract's rules forbid within v1), delete the file after running this script and say so in
# docs/contract.md; the test `every_historical_writer_schema_is_readable` fails until then.
#
# Skipped: commit_metadata (a raw Avro datum in Kafka's commit metadata, no fingerprint on the
# wire), crm_record and crm_write_error (written by Debrief, never read by it).
#
# Needs a full git clone (--check skips with a warning in a shallow one) and fastavro (the interop venv: `eval "$(scripts/interop-setup.sh)"` sets
# DEBRIEF_INTEROP_PYTHON; any python3 with fastavro works too).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${DEBRIEF_INTEROP_PYTHON:-python3}"
skip=" commit_metadata crm_record crm_write_error "

check=0
case "${1:-}" in
    "") ;;
    --check) check=1 ;;
    *)
        echo "usage: scripts/schema-history.sh [--check]" >&2
        exit 2
        ;;
esac

# A shallow clone or a tree without .git lacks the history: regenerating would drop versions.
if [[ "$(git rev-parse --is-shallow-repository 2>/dev/null || echo none)" != "false" ]]; then
    if [[ $check -eq 1 ]]; then
        echo "schema-history: not a full git clone, nothing to check against (skipped)" >&2
        exit 0
    fi
    echo "schema-history: needs a full git clone (git fetch --unshallow)" >&2
    exit 1
fi

if ! "$python" -c 'import fastavro' 2>/dev/null; then
    echo "schema-history: $python has no fastavro; run: eval \"\$(scripts/interop-setup.sh)\"" >&2
    exit 1
fi

# Prints the fingerprint (u64, 16 hex digits, as docs/contract.md writes it) of each schema
# file named on the command line, one per line. fastavro returns the 8 bytes in wire order
# (little-endian), hence the reversal.
fingerprints() {
    "$python" - "$@" <<'EOF'
import json, sys
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        schema = parse_schema(json.load(f), _write_hint=False)
    wire = bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))
    print(wire[::-1].hex())
EOF
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out="$work/history"
mkdir -p "$out"

for current in schemas/*.avsc; do
    name="$(basename "$current" .avsc)"
    [[ "$skip" == *" $name "* ]] && continue
    versions="$work/versions/$name"
    mkdir -p "$versions"
    # Oldest first, so that the oldest text of a fingerprint wins.
    n=0
    while read -r rev; do
        n=$((n + 1))
        git show "$rev:$current" >"$versions/$(printf '%04d' "$n").avsc"
    done < <(git log --reverse --format=%H -- "$current")
    [[ $n -eq 0 ]] && continue
    current_fp="$(fingerprints "$current")"
    mapfile -t files < <(find "$versions" -name '*.avsc' | sort)
    mapfile -t fps < <(fingerprints "${files[@]}")
    for i in "${!files[@]}"; do
        fp="${fps[$i]}"
        [[ "$fp" == "$current_fp" ]] && continue
        dest="$out/$name/$fp.avsc"
        [[ -e "$dest" ]] && continue
        mkdir -p "$out/$name"
        cp "${files[$i]}" "$dest"
    done
done

if [[ $check -eq 1 ]]; then
    if diff -r "$out" schemas/history >&2; then
        echo "schema-history: schemas/history is up to date" >&2
        exit 0
    fi
    echo "schema-history: schemas/history differs from git (above); run scripts/schema-history.sh" >&2
    exit 1
fi

rm -rf schemas/history
cp -r "$out" schemas/history
count="$(find schemas/history -name '*.avsc' | wc -l)"
echo "schema-history: $count previous versions in schemas/history" >&2
