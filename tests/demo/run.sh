#!/usr/bin/env bash
# `make demo`: the real stack on this machine, no Docker. Starts the test OpenID Provider
# (users alice, bob, carol), sidegate (memory store), nginx running
# nginx-examples/sidegate.conf, and a demo app that shows who you are. Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/../.."

APP_PORT=${DEMO_APP_PORT:-8080}
AUTH_PORT=${DEMO_AUTH_PORT:-4180}
IDP_PORT=${DEMO_IDP_PORT:-9090}
BACKEND_PORT=${DEMO_BACKEND_PORT:-8081}

bash tests/install-deps.sh
cargo build --quiet --bin sidegate

dir=$(mktemp -d)
pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
  echo "demo stopped"
}
trap cleanup EXIT INT TERM

wait_for() { # url what
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "$2 did not start; its log is in $dir" >&2
  exit 1
}

for port in "$APP_PORT" "$AUTH_PORT" "$IDP_PORT" "$BACKEND_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is in use; stop what uses it or set DEMO_APP_PORT/DEMO_AUTH_PORT/DEMO_IDP_PORT/DEMO_BACKEND_PORT" >&2
    exit 1
  fi
done

# Browsers resolve localhost to this machine, and cookies ignore ports: sidegate at
# localhost:AUTH_PORT sets a cookie the app at localhost:APP_PORT receives.
clients=$(printf '[{"client_id":"sidegate","client_secret":"demo-client-secret","redirect_uris":["http://localhost:%s/callback"],"post_logout_redirect_uris":["http://localhost:%s/logged-out"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"]}]' "$AUTH_PORT" "$AUTH_PORT")
IDP_PORT=$IDP_PORT IDP_ISSUER="http://localhost:$IDP_PORT" IDP_CLIENTS=$clients \
  node tests/idp/server.js > "$dir/idp.log" 2>&1 &
pids+=($!)
node tests/demo/app.js "$BACKEND_PORT" "http://localhost:$AUTH_PORT/logout" > "$dir/app.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$IDP_PORT/.well-known/openid-configuration" "the OpenID Provider"

SIDEGATE_LISTEN=127.0.0.1:$AUTH_PORT \
SIDEGATE_PUBLIC_URL=http://localhost:$AUTH_PORT \
SIDEGATE_ISSUER_URL=http://localhost:$IDP_PORT \
SIDEGATE_CLIENT_ID=sidegate \
SIDEGATE_CLIENT_SECRET=demo-client-secret \
SIDEGATE_COOKIE_SECRET=demo-cookie-secret-not-for-production-0123456789 \
SIDEGATE_LOG=${SIDEGATE_LOG:-info} \
  target/debug/sidegate > "$dir/sidegate.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$AUTH_PORT/readyz" "sidegate"

# nginx runs the very example users copy, pointed at this demo's ports.
sed -e "s/127.0.0.1:4180/127.0.0.1:$AUTH_PORT/" \
    -e "s/127.0.0.1:8080/127.0.0.1:$BACKEND_PORT/" \
    -e "s/listen 80;/listen 127.0.0.1:$APP_PORT;/" \
    -e "s/server_name app.example.test;/server_name localhost;/" \
    nginx-examples/sidegate.conf > "$dir/site.conf"
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root;"
cat > "$dir/nginx.conf" <<CONF
daemon off;
$user_line
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events { worker_connections 256; }
http {
  access_log $dir/nginx-access.log;
  client_body_temp_path $dir/client; proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi; uwsgi_temp_path $dir/uwsgi; scgi_temp_path $dir/scgi;
  include $dir/site.conf;
}
CONF
nginx -e "$dir/nginx-error.log" -c "$dir/nginx.conf" -p "$dir" &
pids+=($!)
for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$APP_PORT") 2>/dev/null && break
  sleep 0.2
done

cat <<MSG

  sidegate demo is running.

    Open  http://localhost:$APP_PORT/some/page?hello=world

  You are sent to the OpenID Provider's login page. Log in as one of
    alice  (groups: admins, staff)
    bob    (groups: staff)
    carol  (no groups)
  with any password, confirm, and you land back on the page you asked for, which shows
  the identity headers sidegate gave nginx.

  sidegate:  http://localhost:$AUTH_PORT   (logs: $dir/sidegate.log)
  IdP:       http://localhost:$IDP_PORT
  Press Ctrl-C to stop everything.

MSG
wait -n "${pids[@]}" || true
echo "a demo process exited; see the logs in $dir" >&2
