#!/usr/bin/env bash
# `make demo`: the real stack on this machine, no Docker. Starts the test OpenID Provider
# (users alice, bob, carol; no consent screen), sidegate (memory store, two app profiles),
# nginx running
# nginx-examples/sidegate.conf for two apps, and a demo app that shows who you are. Ctrl-C
# stops it all; the logs stay in target/demo/. DEMO_SIDEGATE_BIN skips the release build.
set -euo pipefail
cd "$(dirname "$0")/../.."

APP_PORT=${DEMO_APP_PORT:-8080}
ADMIN_PORT=${DEMO_ADMIN_PORT:-8082}
AUTH_PORT=${DEMO_AUTH_PORT:-4180}
IDP_PORT=${DEMO_IDP_PORT:-9090}
BACKEND_PORT=${DEMO_BACKEND_PORT:-8081}
LOG_LEVEL=${SIDEGATE_LOG:-info}
# Nothing of the caller's SIDEGATE_* (make's SIDEGATE_TEST_TRAEFIK_BIN, a shell's leftovers)
# reaches the demo's sidegate: it gets exactly the settings below.
while read -r var; do unset "$var"; done < <(compgen -e | grep '^SIDEGATE_' || true)

if [ -z "${DEMO_SIDEGATE_BIN:-}" ]; then
  bash tests/install-deps.sh
  echo "building sidegate (release; the first build takes a few minutes, later ones seconds)"
  cargo build --release --bin sidegate
  DEMO_SIDEGATE_BIN=target/release/sidegate
fi

# The logs stay after the demo stops, here:
dir=${DEMO_DIR:-$PWD/target/demo}
rm -rf "$dir" && mkdir -p "$dir"
pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "demo stopped; the logs are kept in $dir"
  exit 0
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

for port in "$APP_PORT" "$ADMIN_PORT" "$AUTH_PORT" "$IDP_PORT" "$BACKEND_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is in use; stop what uses it or set DEMO_APP_PORT/DEMO_ADMIN_PORT/DEMO_AUTH_PORT/DEMO_IDP_PORT/DEMO_BACKEND_PORT" >&2
    exit 1
  fi
done

# Browsers resolve localhost to this machine, and cookies ignore ports: sidegate at
# localhost:AUTH_PORT sets a cookie the app at localhost:APP_PORT receives.
clients=$(printf '[{"client_id":"sidegate","client_secret":"demo-client-secret","redirect_uris":["http://localhost:%s/callback"],"post_logout_redirect_uris":["http://localhost:%s/logged-out"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"]}]' "$AUTH_PORT" "$AUTH_PORT")
IDP_PORT=$IDP_PORT IDP_ISSUER="http://localhost:$IDP_PORT" IDP_CLIENTS=$clients IDP_SKIP_CONSENT=1 \
  node tests/idp/server.js > "$dir/idp.log" 2>&1 &
pids+=($!)
node tests/demo/app.js "$BACKEND_PORT" "http://localhost:$AUTH_PORT/logout" > "$dir/app.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$IDP_PORT/.well-known/openid-configuration" "the OpenID Provider"

# Two app profiles: the first app for everyone, with a static credential sidegate injects
# (the app page shows it masked); the second for the admins group only.
cat > "$dir/apps.toml" <<'TOML'
[apps.default]
credential = { type = "static", header = "Authorization", scheme = "Bearer", secret_env = "DEMO_APP_TOKEN" }

[apps.admins]
allow_groups = ["admins"]
TOML
env -i PATH="$PATH" \
SIDEGATE_LISTEN=127.0.0.1:$AUTH_PORT \
SIDEGATE_PUBLIC_URL=http://localhost:$AUTH_PORT \
SIDEGATE_ISSUER_URL=http://localhost:$IDP_PORT \
SIDEGATE_CLIENT_ID=sidegate \
SIDEGATE_CLIENT_SECRET=demo-client-secret \
SIDEGATE_COOKIE_SECRET=demo-cookie-secret-not-for-production-0123456789 \
SIDEGATE_APPS_FILE="$dir/apps.toml" \
DEMO_APP_TOKEN=demo-forever-token-1234 \
SIDEGATE_LOG="$LOG_LEVEL" \
  "$DEMO_SIDEGATE_BIN" > "$dir/sidegate.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$AUTH_PORT/readyz" "sidegate"

# nginx runs the very example users copy, pointed at this demo's ports.
sed -e "s/127.0.0.1:4180/127.0.0.1:$AUTH_PORT/" \
    -e "s/127.0.0.1:8080/127.0.0.1:$BACKEND_PORT/" \
    -e "s/listen 80;/listen 127.0.0.1:$APP_PORT;/" \
    -e "s/server_name app.example.test;/server_name localhost;/" \
    -e 's|^\( *\)proxy_set_header X-Forwarded-Preferred-Username $sidegate_username;|&\n\1# The credential of the profile (as nginx-examples/apps.conf does per app).\n\1auth_request_set $sidegate_authorization $upstream_http_authorization;\n\1proxy_set_header Authorization $sidegate_authorization;|' \
    nginx-examples/sidegate.conf > "$dir/site.conf"
# The admins-only app: the same example on its own port, asking for the `admins` profile.
sed -e "s/127.0.0.1:4180/127.0.0.1:$AUTH_PORT/" \
    -e "s/127.0.0.1:8080/127.0.0.1:$BACKEND_PORT/" \
    -e "s/listen 80;/listen 127.0.0.1:$ADMIN_PORT;/" \
    -e "s/server_name app.example.test;/server_name localhost;/" \
    -e "s|proxy_pass http://sidegate/auth/nginx;|proxy_pass http://sidegate/auth/nginx/admins;|" \
    -e "s/^upstream sidegate {/upstream sidegate_admins {/" \
    -e "s/^upstream app {/upstream app_admins {/" \
    -e "s|http://sidegate/|http://sidegate_admins/|; s|http://sidegate;|http://sidegate_admins;|; s|http://app;|http://app_admins;|" \
    nginx-examples/sidegate.conf > "$dir/admins.conf"
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
  include $dir/admins.conf;
  # http://127.0.0.1:<port> works too: it becomes localhost, where the cookie lives.
  server { listen 127.0.0.1:$APP_PORT; server_name 127.0.0.1; return 302 http://localhost:$APP_PORT\$request_uri; }
  server { listen 127.0.0.1:$ADMIN_PORT; server_name 127.0.0.1; return 302 http://localhost:$ADMIN_PORT\$request_uri; }
}
CONF
nginx -e "$dir/nginx-error.log" -c "$dir/nginx.conf" -p "$dir" &
pids+=($!)
for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$ADMIN_PORT") 2>/dev/null && break
  sleep 0.2
done

cat <<MSG

  sidegate demo is running.

    Open  http://localhost:$APP_PORT/some/page?hello=world

  You are sent to the OpenID Provider's login page. Log in as one of
    alice  (groups: admins, staff)
    bob    (groups: staff)
    carol  (no groups)
  with any password, and you land back on the page you asked for, which shows the
  identity headers sidegate gave nginx, the credential it injected (masked) and that
  sidegate's session cookie did not reach the app.

  Then open the admins-only app, http://localhost:$ADMIN_PORT/ : alice gets in without
  another login (single sign-on); bob and carol are refused (403). Sign out on either.

  sidegate:  http://localhost:$AUTH_PORT   (log: $dir/sidegate.log)
  IdP:       http://localhost:$IDP_PORT      (log: $dir/idp.log)
  nginx:     $dir/nginx-error.log, $dir/nginx-access.log
  Press Ctrl-C to stop everything; the logs stay in $dir.

MSG
wait -n "${pids[@]}" || true
echo "a demo process exited; see the logs in $dir" >&2
