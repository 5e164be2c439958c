#!/usr/bin/env bash
# Install what the real-Airflow deployment tests need besides Python: PostgreSQL for every
# deployment's metadata database and Redis for the Celery deployments (the tests start private,
# throw-away instances of both on free ports; the system services are not used); iproute2 (`ip
# netns`), util-linux (`nsenter`) and git (the Git server of the Dag bundle) for the multi-host
# deployments. Debian 12. Idempotent.
set -euo pipefail
pkgs=(postgresql redis-server iproute2 util-linux git)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
ls /usr/lib/postgresql/*/bin/initdb >/dev/null
command -v redis-server >/dev/null
command -v ip nsenter git >/dev/null
echo "deploy-setup: postgresql, redis-server, iproute2, util-linux and git are installed"
