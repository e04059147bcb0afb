#!/usr/bin/env bash
# Installs fleetcd on a control node, as root: the built app in PREFIX with its production dependencies, the
# `fleetcd` command, the system user and group fleetcd, /etc/fleetcd with an API token and a starter config,
# /var/lib/fleetcd, and the hardened systemd unit. Running it again upgrades the app and the unit and leaves
# the user, the token and the config as they are. --uninstall removes the app, the command and the unit, and
# keeps the config, the state and the user. --root DIR does all of it inside DIR (an image or a test).
# Nothing is downloaded: the dependencies are copied from this checkout's node_modules (`npm ci` and
# `npm run build` must have run here; `bash scripts/ensure-deps.sh` does both).
set -euo pipefail

usage='usage: sudo scripts/install.sh [--prefix DIR] [--root DIR] [--uninstall]
  --prefix DIR   where the app goes (default /opt/fleetcd)
  --root DIR     install into DIR as the file system root, without touching the running system
  --uninstall    remove the app, the fleetcd command and the unit; keep /etc/fleetcd, /var/lib/fleetcd and the user'

prefix=/opt/fleetcd
root=
uninstall=false
while (($#)); do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    --root=*) root=${1#--root=}; shift ;;
    --uninstall) uninstall=true; shift ;;
    -h | --help) echo "$usage"; exit 0 ;;
    *) echo "install.sh: unknown argument: $1" >&2; echo "$usage" >&2; exit 2 ;;
  esac
done

fail() {
  echo "install.sh: $*" >&2
  exit 1
}
say() { echo "  $*"; }

[ "$(id -u)" -eq 0 ] || fail "must run as root (sudo scripts/install.sh): it creates a system user and writes to /etc"
prefix=${prefix%/}
case "$prefix" in
  /*) ;;
  *) fail "--prefix must be an absolute path, got \"$prefix\"" ;;
esac
case "/$prefix/" in
  */../* | */./*) fail "--prefix must not contain . or .. segments, got \"$prefix\"" ;;
esac
[[ $prefix =~ ^[A-Za-z0-9._/+-]+$ ]] || fail "--prefix may hold letters, digits and . _ + - / only, got \"$prefix\""
case "$prefix" in
  '' | /usr | /usr/local | /opt | /etc | /var | /var/lib | /home | /root | /srv | /bin | /sbin | /lib | /boot | /tmp)
    fail "--prefix must be a directory of its own, like /opt/fleetcd, got \"${prefix:-/}\"" ;;
esac
if [ -n "$root" ]; then
  [ -d "$root" ] || fail "--root $root is not a directory"
  root=$(cd "$root" && pwd)
  [ "$root" != / ] || root=
fi

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
app=$root$prefix
link=$root/usr/local/bin/fleetcd
unit=$root/etc/systemd/system/fleetcd.service
config_dir=$root/etc/fleetcd
state_dir=$root/var/lib/fleetcd

# systemctl talks to the running system only: not for --root, not where systemd is not PID 1.
systemd_running() { [ -z "$root" ] && [ -d /run/systemd/system ]; }

# An earlier fleetcd install (its package.json says so): the only kind of directory replaced or deleted here.
is_fleetcd_app() { grep -qs '"name": "fleetcd"' "$1/package.json"; }

if $uninstall; then
  if [ -d "$app" ] && ! is_fleetcd_app "$app"; then
    fail "$app does not look like a fleetcd install (no package.json named fleetcd): not removing anything"
  fi
  echo "Uninstalling fleetcd${root:+ from $root}"
  if systemd_running && [ -e "$unit" ]; then
    systemctl disable --now fleetcd.service && say "stopped and disabled fleetcd.service"
  fi
  if [ -e "$unit" ]; then rm -f "$unit" && say "removed $unit"; fi
  if [ -L "$link" ] && [ "$(readlink "$link")" = "$prefix/bin/fleetcd" ]; then
    rm -f "$link" && say "removed $link"
  elif [ -e "$link" ] || [ -L "$link" ]; then
    say "kept $link: it does not point to $prefix/bin/fleetcd"
  fi
  if [ -d "$app" ]; then rm -rf "$app" && say "removed $app"; fi
  if systemd_running; then systemctl daemon-reload && say "reloaded systemd"; fi
  echo "Kept (remove them yourself to remove everything):"
  say "$config_dir: config and API token"
  say "$state_dir: records, checkouts, logs"
  if [ -d "$unit.d" ]; then say "$unit.d: your drop-ins"; fi
  say "the user and group fleetcd (userdel fleetcd)"
  exit 0
fi

[ -f "$src/dist/cli/main.js" ] || fail "$src/dist/cli/main.js is missing: build first (npm ci && npm run build)"
[ -d "$src/node_modules" ] || fail "$src/node_modules is missing: run npm ci first"
command -v npm >/dev/null || fail "npm is needed to list the production dependencies, and is not on PATH"

echo "Installing fleetcd into ${root:-/} (app in $prefix)"

# --- the fleetcd user and group --------------------------------------------------------------------
if [ -n "$root" ]; then
  # useradd/groupadd --root need the account files; a bare DIR gets minimal ones holding root alone.
  mkdir -p "$root/etc"
  [ -e "$root/etc/passwd" ] || echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  [ -e "$root/etc/group" ] || echo 'root:x:0:' >"$root/etc/group"
  [ -e "$root/etc/shadow" ] || (umask 077 && echo 'root:*:::::::' >"$root/etc/shadow")
  [ -e "$root/etc/gshadow" ] || (umask 077 && echo 'root:*::' >"$root/etc/gshadow")
  account_args=(--root "$root")
  has_group() { grep -q '^fleetcd:' "$root/etc/group"; }
  has_user() { grep -q '^fleetcd:' "$root/etc/passwd"; }
  uid_of() { awk -F: '$1 == "fleetcd" { print $3 }' "$root/etc/passwd"; }
  gid_of() { awk -F: '$1 == "fleetcd" { print $3 }' "$root/etc/group"; }
else
  account_args=()
  has_group() { getent group fleetcd >/dev/null; }
  has_user() { getent passwd fleetcd >/dev/null; }
  uid_of() { id -u fleetcd; }
  gid_of() { getent group fleetcd | cut -d: -f3; }
fi
nologin=/usr/sbin/nologin
if [ ! -e "$root$nologin" ] && [ -e "$root/sbin/nologin" ]; then nologin=/sbin/nologin; fi
if has_group; then
  say "group fleetcd exists"
else
  groupadd "${account_args[@]}" --system fleetcd && say "created group fleetcd"
fi
if has_user; then
  say "user fleetcd exists"
else
  useradd "${account_args[@]}" --system --gid fleetcd --home-dir /var/lib/fleetcd --no-create-home \
    --shell "$nologin" --comment 'fleetcd GitOps daemon' fleetcd
  say "created user fleetcd (home /var/lib/fleetcd, no login shell)"
fi
uid=$(uid_of)
gid=$(gid_of)
if [ -z "$uid" ] || [ -z "$gid" ]; then fail "cannot find the uid and gid of fleetcd"; fi

# --- the app ---------------------------------------------------------------------------------------
# Built in a sibling directory and swapped in whole, so a running daemon never sees half an upgrade.
if [ -e "$app" ] && ! is_fleetcd_app "$app"; then
  fail "$app exists and is not a fleetcd install: choose another --prefix"
fi
mkdir -p "$(dirname "$app")"
stage=$(mktemp -d "$(dirname "$app")/.fleetcd-install.XXXXXX")
trap 'rm -rf "$stage"' EXIT
for item in dist ansible bin systemd docs package.json package-lock.json README.md; do
  if [ -e "$src/$item" ]; then cp -a "$src/$item" "$stage/"; fi
done
# Production dependencies only, as npm resolved them here (the native better-sqlite3 build included):
# each package without its nested node_modules, which are listed separately when they are needed.
listing=$(cd "$src" && npm ls --omit=dev --all --parseable) ||
  fail "npm ls reports problems with $src/node_modules (above): run npm ci first"
mapfile -t packages < <(awk -v modules="$src/node_modules/" 'index($0, modules) == 1' <<<"$listing")
[ "${#packages[@]}" -gt 0 ] || fail "npm ls --omit=dev found no dependencies in $src/node_modules: run npm ci first"
for package in "${packages[@]}"; do
  rel=${package#"$src/"}
  [ -d "$package" ] || fail "dependency $rel is missing: run npm ci first"
  mkdir -p "$stage/$rel"
  find "$package" -mindepth 1 -maxdepth 1 ! -name node_modules -exec cp -a -t "$stage/$rel" {} +
done
# Build leftovers of native modules: only build/Release/*.node is loaded.
find "$stage/node_modules" -path '*/build/Release/*' \( -name 'obj' -o -name 'obj.target' -o -name '.deps' \) -prune \
  -exec rm -rf {} +
find "$stage" -name __pycache__ -prune -exec rm -rf {} +
chown -R 0:0 "$stage"
chmod -R u+rwX,go+rX,go-w "$stage"
old=
if [ -e "$app" ]; then
  old=$stage.old
  mv "$app" "$old"
fi
mv "$stage" "$app"
trap - EXIT
[ -z "$old" ] || rm -rf "$old"
say "installed the app in $app (${#packages[@]} production packages)"

mkdir -p "$(dirname "$link")"
if [ -L "$link" ] && [ "$(readlink "$link")" = "$prefix/bin/fleetcd" ]; then
  say "$link already points to $prefix/bin/fleetcd"
else
  [ ! -e "$link" ] || [ -L "$link" ] || fail "$link exists and is not a link: move it away first"
  ln -sfn "$prefix/bin/fleetcd" "$link" && say "linked $link -> $prefix/bin/fleetcd"
fi

# --- config and state --------------------------------------------------------------------------------
# /etc/fleetcd must be root:fleetcd before the unit's ConfigurationDirectory= sees it: systemd would create
# it as root:root, which fleetcd could not read.
install -d -m 0750 -o 0 -g "$gid" "$config_dir"
install -d -m 0750 -o "$uid" -g "$gid" "$state_dir"
say "$config_dir (root:fleetcd 0750) and $state_dir (fleetcd:fleetcd 0750) are ready"

# A new file, written under a temporary name and renamed, so a half-written token or config never exists.
write_new_file() {
  local target=$1 mode=$2 tmp
  tmp=$(mktemp "$target.XXXXXX")
  cat >"$tmp"
  chown "0:$gid" "$tmp"
  chmod "$mode" "$tmp"
  mv "$tmp" "$target"
}

token=$config_dir/api-token
if [ -e "$token" ]; then
  say "kept the API token $token"
else
  printf '%s\n' "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" | write_new_file "$token" 0640
  say "created the API token $token (root:fleetcd 0640: members of group fleetcd can use the CLI)"
fi

config=$config_dir/fleetcd.yaml
if [ -e "$config" ]; then
  say "kept the config $config"
else
  write_new_file "$config" 0640 <<EOF
# fleetcd's config, written once by install.sh (which never overwrites it). Every key: $prefix/README.md.
# After editing: systemctl restart fleetcd.

repository:
  # CHANGE ME: the git repository with your playbooks/ and inventories/ (any git URL: a path, ssh://,
  # git@host:path, https://). fleetcd cannot start until this points to a real repository.
  url: /srv/fleet-config.git
  branch: main
  # For ssh:// and git@host:path URLs: a deploy key, root:fleetcd 0640, and the git host's known_hosts.
  # sshKeyFile: /etc/fleetcd/git-deploy-key
  # knownHostsFile: /etc/fleetcd/known_hosts

stateDir: /var/lib/fleetcd

api:
  listen: 127.0.0.1:9110           # keep it on localhost; put a TLS reverse proxy in front to expose it
  tokenFile: /etc/fleetcd/api-token

reconcile:
  mode: detect                     # report drift only; "apply" also heals it

# How Ansible reaches the managed hosts (the daemon runs as user fleetcd, HOME=/var/lib/fleetcd):
# ansible:
#   sshKeyFile: /etc/fleetcd/ansible-ssh-key
#   knownHostsFile: /etc/fleetcd/known_hosts
EOF
  say "created the starter config $config (set repository.url before starting)"
fi

# --- the unit ------------------------------------------------------------------------------------
mkdir -p "$(dirname "$unit")"
unit_text=$(sed "s#file:///opt/fleetcd/#file://$prefix/#g" "$src/systemd/fleetcd.service")
if [ -f "$unit" ] && [ "$(cat "$unit")" = "$unit_text" ]; then
  say "$unit is up to date"
else
  printf '%s\n' "$unit_text" >"$unit.tmp"
  chmod 0644 "$unit.tmp"
  mv "$unit.tmp" "$unit"
  say "installed $unit"
fi
if systemd_running; then systemctl daemon-reload && say "reloaded systemd"; fi

# --- what the service will find on PATH --------------------------------------------------------------
if [ -z "$root" ]; then
  service_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  for tool in node ansible-playbook git ssh; do
    PATH=$service_path command -v "$tool" >/dev/null || echo "install.sh: warning: $tool is not on the service's PATH ($service_path)" >&2
  done
fi

cat <<EOF

Next steps:
  1. Set repository.url (and SSH keys for Ansible) in $config.
  2. systemctl enable --now fleetcd        (then: journalctl -u fleetcd -f)
  3. To use the CLI without root: usermod -aG fleetcd <you>, log in again, run: fleetcd status
  After an upgrade: systemctl restart fleetcd. Local changes to the unit: systemctl edit fleetcd.
EOF
