#!/usr/bin/env bash
# tools/apt-install.sh PACKAGE...: install the Debian packages that are missing (as root, or
# through sudo). On a fresh machine .ci/run, `make setup`, `make system-deps` and the tool
# scripts each install something: one `apt-get update` serves them all (skipped while the
# package lists were refreshed within the hour: apt-get update downloads into lists/partial).
set -euo pipefail
missing=()
for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[[ ${#missing[@]} -gt 0 ]] || exit 0
echo "installing Debian packages: ${missing[*]}" >&2
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
if [[ -z "$(find /var/lib/apt/lists/partial -maxdepth 0 -newermt '1 hour ago' 2>/dev/null)" ]]; then
  $SUDO apt-get update -qq
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
