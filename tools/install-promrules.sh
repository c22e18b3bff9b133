#!/usr/bin/env bash
# Build gas-promtool-test (tools/promrules): `promtool test rules` with Prometheus' own
# rule engine, without the rest of promtool (whose service-discovery SDKs take over
# 8 minutes to compile). The chart's alert-rule tests run it (tests/chart/test_alert_rules.py).
# Cached outside the clone (GAS_TOOLS_BIN, default ~/.cache/gas/tools/bin), keyed by the
# tool's go.mod/go.sum/sources: rebuilt only when they change.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${GAS_TOOLS_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/gas/tools/bin}"

source "$ROOT/tools/cache.sh"

VERSION="$(cd "$ROOT/tools/promrules" && cat go.mod go.sum ./*.go | sha256sum | cut -c1-16)"
if ! fresh gas-promtool-test "$VERSION"; then
  echo "install-promrules: building gas-promtool-test ($VERSION) into $BIN" >&2
  (cd "$ROOT/tools/promrules" && nice -n 10 go build -trimpath -ldflags "-s -w" -o "$BIN/gas-promtool-test" .)
  echo "$VERSION" >"$(stamp gas-promtool-test)"
fi
echo "$BIN/gas-promtool-test"
