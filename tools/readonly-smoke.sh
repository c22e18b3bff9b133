#!/usr/bin/env bash
# Smoke-test a service venv the way the image runs it, without Docker: as UID/GID 10001,
# with the whole root filesystem read-only and only a fresh tmpfs on /tmp (the chart's
# emptyDir). Needs root (a private mount namespace + chroot). Checks that writing outside
# /tmp fails and that gas-web answers /healthz.
#   UV_PROJECT_ENVIRONMENT=/tmp/venv-web uv sync --frozen --no-dev --package gas-web --no-editable
#   sudo tools/readonly-smoke.sh /tmp/venv-web
set -euo pipefail
VENV="$(cd "$1" && pwd)"
if [[ "${GAS_SMOKE_INNER:-}" != 1 ]]; then
  exec timeout -s KILL 60 unshare -m env GAS_SMOKE_INNER=1 "$0" "$VENV"
fi
R=/run/gas-readonly-smoke
mkdir -p "$R"
mount --make-rprivate /
mount --rbind / "$R"
mount -o remount,bind,ro "$R"
mount -t tmpfs -o size=64m,mode=1777 tmpfs "$R/tmp"
# the venv's interpreter may live under /root (700): expose just that, read-only
PY="$(readlink -f "$VENV/bin/python")"
if [[ "$PY" == /root/* ]]; then
  mount -t tmpfs -o size=1m,mode=755 tmpfs "$R/root"
  d="$(dirname "$(dirname "$PY")")"
  mkdir -p "$R$d" && mount --bind "$d" "$R$d" && mount -o remount,bind,ro "$R$d"
fi
if [[ "$VENV" == /tmp/* ]]; then
  mkdir -p "$R$VENV" && mount --bind "$VENV" "$R$VENV" && mount -o remount,bind,ro "$R$VENV"
fi
exec chroot "$R" setpriv --reuid 10001 --regid 10001 --clear-groups env -i PATH=/usr/bin:/bin HOME=/tmp TMPDIR=/tmp \
  PYTHONDONTWRITEBYTECODE=1 GAS_ENV=dev GAS_WEB_BIND=127.0.0.1:18080 PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus \
  GAS_SECRET_KEY=readonly-smoke-secret-key-0123456789abcdef GAS_GLOBUS_CLIENT_ID=x GAS_GLOBUS_CLIENT_SECRET=y \
  AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test VENV="$VENV" sh -c '
    if touch /etc/.gas-smoke 2>/dev/null; then echo "FAIL: root filesystem is writable"; exit 1; fi
    mkdir -p /tmp/prometheus
    "$VENV/bin/gas-web" >/tmp/web.log 2>&1 & pid=$!
    ok=1
    for i in 1 2 3 4 5 6 7 8 9 10; do
      sleep 1
      if "$VENV/bin/python" -c "import urllib.request as u; print(u.urlopen(\"http://127.0.0.1:18080/healthz\", timeout=2).read().decode())" 2>/dev/null; then ok=0; break; fi
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
    [ "$ok" = 0 ] && echo "OK: gas-web served /healthz as uid $(id -u) on a read-only root" || { cat /tmp/web.log; exit 1; }'
