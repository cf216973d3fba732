#!/usr/bin/env bash
# Rewrites deploy/k8s/configmap.yaml so that its debrief.toml is deploy/debrief.toml verbatim
# (tests/deploy_files.rs checks that the two agree). Run it after editing deploy/debrief.toml.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAP="$ROOT/deploy/k8s/configmap.yaml"
{
    sed '/^  debrief.toml: |$/q' "$MAP"
    sed 's/^\(.\)/    \1/' "$ROOT/deploy/debrief.toml"
} >"$MAP.tmp"
mv "$MAP.tmp" "$MAP"
