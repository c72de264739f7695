#!/usr/bin/env bash
# Architecture invariants from ARCHITECTURE.md, checked on the normal (non-dev) dependency graph.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
deps() { cargo tree -e normal -p "$1" --prefix none --format '{p}' 2>/dev/null | awk '{print $1}' | sort -u; }
ws=$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print("\n".join(p["name"] for p in json.load(sys.stdin)["packages"]))')

check_no_workspace_deps() {
  local pkg=$1
  for other in $ws; do
    [[ $other == "$pkg" ]] && continue
    if deps "$pkg" | grep -qx "$other"; then echo "invariant broken: $pkg depends on $other" >&2; fail=1; fi
  done
}
if grep -qx tokencache <<<"$ws"; then
  check_no_workspace_deps tokencache
  if deps tokencache | grep -Eqx 'opentelemetry_sdk|opentelemetry-otlp|opentelemetry-prometheus'; then
    echo "invariant broken: tokencache depends on an OpenTelemetry SDK or exporter" >&2; fail=1
  fi
fi
if grep -qx mock-authority <<<"$ws"; then
  check_no_workspace_deps mock-authority
  # Its OpenTelemetry export is opt-in (feature `otlp`); with it, still no workspace crate.
  if deps mock-authority | grep -Eqx 'opentelemetry|opentelemetry_sdk|opentelemetry-otlp'; then
    echo "invariant broken: mock-authority depends on OpenTelemetry without its otlp feature" >&2; fail=1
  fi
  for other in $ws; do
    [[ $other == mock-authority ]] && continue
    if cargo tree -e normal -p mock-authority --features otlp --prefix none --format '{p}' 2>/dev/null | awk '{print $1}' | grep -qx "$other"; then
      echo "invariant broken: mock-authority (feature otlp) depends on $other" >&2; fail=1
    fi
  done
fi
[[ $fail -eq 0 ]] && echo "invariants hold"
exit $fail
