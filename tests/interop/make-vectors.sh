#!/usr/bin/env bash
# Regenerates the canonical-form test vectors in src/schema/testdata/ with the two reference
# libraries (never with Debrief's own code): Apache Avro for Java and fastavro, over the
# contract's schemas (schemas/*.avsc) and the edge cases in src/schema/testdata/schemas/.
# Run after changing a schema, then review the diff:
#   tests/interop/make-vectors.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
eval "$(scripts/interop-setup.sh)"
files=(schemas/*.avsc src/schema/testdata/schemas/*.avsc)
java -cp "$(cat "$DEBRIEF_INTEROP_JAVA_CP_FILE")" tests/interop/Interop.java canonical "${files[@]}" \
    >src/schema/testdata/canonical_forms.java.jsonl 2> >(grep -v '^SLF4J' >&2)
"$DEBRIEF_INTEROP_PYTHON" tests/interop/interop.py canonical "${files[@]}" \
    >src/schema/testdata/canonical_forms.fastavro.jsonl
echo "wrote src/schema/testdata/canonical_forms.{java,fastavro}.jsonl (${#files[@]} schemas each)" >&2
