#!/usr/bin/env bash
# Prepares the toolchains of the Avro interop test (tests/avro_interop.rs) under target/:
#   - Apache Avro for Java, pinned in tests/interop/pom.xml, resolved by Maven into
#     target/m2 (its classpath written to target/interop/avro-classpath.txt);
#   - fastavro, pinned in tests/interop/requirements.txt, installed into the virtual
#     environment target/interop/venv.
# Idempotent: a warm run checks two stamp files and returns at once.
# Prints the environment the test needs, as `export NAME=value` lines, on stdout:
#   eval "$(scripts/interop-setup.sh)"
#   cargo test --test avro_interop -- --include-ignored
# Needs java (17+), mvn and python3 (3.9+) on PATH; exits non-zero, naming what is missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$target"
target="$(cd "$target" && pwd)"
out="$target/interop"
mkdir -p "$out"

for tool in java mvn python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "interop-setup: '$tool' is not on PATH (the Avro interop test needs java 17+, mvn and python3)" >&2
        exit 1
    fi
done

# Java: resolve the pinned avro jar and its dependencies once per pom.xml content.
pom="$root/tests/interop/pom.xml"
cp_file="$out/avro-classpath.txt"
pom_stamp="$out/pom.sha256"
pom_sum="$(sha256sum "$pom" | cut -d' ' -f1)"
classpath_ok() {
    [[ -s "$cp_file" && "$(cat "$pom_stamp" 2>/dev/null)" == "$pom_sum" ]] || return 1
    local jar
    IFS=: read -r -a jars <"$cp_file"
    for jar in "${jars[@]}"; do
        [[ -f "$jar" ]] || return 1
    done
}
if ! classpath_ok; then
    echo "interop-setup: resolving Apache Avro for Java (Maven, cached in $target/m2)" >&2
    mvn -q -B -Dstyle.color=never -f "$pom" -Dmaven.repo.local="$target/m2" \
        dependency:build-classpath -Dmdep.outputFile="$cp_file" >&2
    echo "$pom_sum" >"$pom_stamp"
fi

# Python: a venv with the pinned fastavro, rebuilt when requirements.txt changes.
req="$root/tests/interop/requirements.txt"
venv="$out/venv"
req_stamp="$venv/requirements.sha256"
req_sum="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || "$(cat "$req_stamp" 2>/dev/null)" != "$req_sum" ]]; then
    echo "interop-setup: installing fastavro into $venv (pip)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2
    echo "$req_sum" >"$req_stamp"
fi

echo "export DEBRIEF_INTEROP_JAVA_CP_FILE=$cp_file"
echo "export DEBRIEF_INTEROP_PYTHON=$venv/bin/python"
