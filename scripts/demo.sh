#!/usr/bin/env bash
# The demo: fleetcd watching this repository's own playbooks/ and inventories/ (served from a local git
# repo it makes), on three sandbox "hosts" under .demo/. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
exec node --import tsx scripts/demo.ts "$@"
