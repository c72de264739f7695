#!/usr/bin/env bash
# The test command: installs or checks everything the tests need, then runs every test.
#
#   scripts/test.sh            everything: set-up, fmt, clippy, invariants, all tests
#   scripts/test.sh --setup    set-up only (system packages, Python venv, npm clients)
#
# Tests start their own servers (Redis, Redis Cluster, PostgreSQL, Prometheus) on free loopback ports
# and drive real clients (MSAL Python from .venv, msal-node from scripts/clients/node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf '\n==> %s\n' "$*"; }

# --- system packages ---------------------------------------------------------------------
# binary -> Debian package that provides it
declare -A need=(
  [redis-server]=redis-server
  [redis-cli]=redis-tools
  [node]=nodejs
  [npm]=npm
  [prometheus]=prometheus
  [promtool]=prometheus
  [chromium]=chromium
)
missing=()
for bin in "${!need[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("${need[$bin]}")
done
# PostgreSQL server binaries live outside PATH on Debian.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then missing+=(postgresql); fi
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then missing+=(python3-venv); fi
if ((${#missing[@]})); then
  say "installing system packages: ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing packages; run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# --- real clients ------------------------------------------------------------------------
say "Python venv with MSAL Python (.venv)"
if [[ ! -x .venv/bin/python ]]; then python3 -m venv .venv; fi
if ! .venv/bin/python -c 'import msal' >/dev/null 2>&1 ||
   ! cmp -s scripts/clients/requirements.txt .venv/.requirements 2>/dev/null; then
  .venv/bin/pip install -q --disable-pip-version-check -r scripts/clients/requirements.txt
  cp scripts/clients/requirements.txt .venv/.requirements
fi
export TOKENSCOPE_PYTHON="$root/.venv/bin/python"

say "npm clients (scripts/clients/node_modules)"
if [[ ! -d scripts/clients/node_modules/@azure/msal-node ]] ||
   [[ scripts/clients/package-lock.json -nt scripts/clients/node_modules/.package-lock.json ]]; then
  (cd scripts/clients && npm ci --no-audit --no-fund --loglevel=error)
fi
export TOKENSCOPE_NODE_MODULES="$root/scripts/clients/node_modules"

[[ "${1:-}" == "--setup" ]] && exit 0

# --- static checks -----------------------------------------------------------------------
say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
# The workspace build turns mock-authority's `otlp` feature on (loadgen's tests use it): lint
# the crate without it too.
cargo clippy -p mock-authority --all-targets -- -D warnings

say "architecture invariants (cargo tree)"
scripts/check-invariants.sh

# --- tests -------------------------------------------------------------------------------
say "cargo test"
cargo test --workspace --all-targets
