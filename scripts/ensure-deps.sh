#!/usr/bin/env bash
# Installs what fleetcd needs on a fresh Debian machine, skipping what is already there:
# ansible-core, openssh-server, git, gnupg and procps from Debian's packages, then the npm dependencies and the build.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v ansible-playbook >/dev/null || missing+=(ansible-core)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v git >/dev/null || missing+=(git)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
# The test suite also uses gpg (signed commits) and ps (process checks).
command -v gpg >/dev/null || missing+=(gnupg)
command -v ps >/dev/null || missing+=(procps)
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
