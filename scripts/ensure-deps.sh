#!/usr/bin/env bash
# Installs what fleetcd needs on a fresh Debian machine, skipping what is already there: ansible-core,
# openssh-server and git from Debian's packages, then the npm dependencies and the build. With --test, also
# what the test suite uses: gnupg (signed commits), procps (ps), chromium (the page in a real browser),
# prometheus (promtool checks the alert rules) and ansible-lint (policy gates).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v ansible-playbook >/dev/null || missing+=(ansible-core)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v git >/dev/null || missing+=(git)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
if [ "${1:-}" = --test ]; then
  command -v gpg >/dev/null || missing+=(gnupg)
  command -v ps >/dev/null || missing+=(procps)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v ansible-lint >/dev/null || missing+=(ansible-lint)
fi
if ((${#missing[@]})); then
  echo "fleetcd: installing ${missing[*]} from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" python3 >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "fleetcd: installing npm dependencies (better-sqlite3 builds from source: about a minute)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ ! -f dist/cli/main.js ] || [ -n "$(find src ansible web -newer dist/cli/main.js -print -quit)" ]; then
  npm run build --silent
fi
