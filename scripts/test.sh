#!/usr/bin/env bash
# The whole test suite: the static checks (types of src, tests, benches and scripts; the linter), then unit
# tests of pure logic and integration tests against real ansible-playbook, sshd hosts on 127.0.0.1, git
# repositories in temp dirs, SQLite files and the daemon as a process. Test files run in parallel (most of
# their time is spent waiting on Ansible and SSH).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh --test
npm run --silent typecheck
npm run --silent lint
shopt -s globstar nullglob
files=(test/**/*.test.ts)
if [ "$#" -gt 0 ]; then files=("$@"); fi
exec node --import tsx --test --test-concurrency="${FLEETCD_TEST_CONCURRENCY:-3}" "${files[@]}"
