#!/usr/bin/env bash
# Checks the test OpenID Provider end to end with curl alone (no browser): discovery, the
# authorization-code + PKCE (S256) login through the dev login and consent forms, the
# token exchange, ID token claims, userinfo, refresh-token rotation and reuse detection,
# /_test/stats, and RP-initiated logout with a back-channel logout to a local receiver.
# Usage: tests/idp/smoke.sh   (needs curl, node, and `npm ci` done in tests/idp)
# Ports: SMOKE_IDP_PORT (default 5555) and SMOKE_IDP_PORT+1 for the back-channel receiver.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
port=${SMOKE_IDP_PORT:-5555}
bcl_port=$((port + 1))
B="http://127.0.0.1:$port"
RP="http://127.0.0.1:9999"
tmp=$(mktemp -d)
jar="$tmp/jar.txt"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "smoke: FAIL: $*" >&2; echo "--- idp stderr:" >&2; cat "$tmp/idp.err" >&2 || true; exit 1; }
ok() { echo "ok - $*"; }
json() { node -e 'const v=JSON.parse(require("fs").readFileSync(0,"utf8")); const r=(new Function("v","return "+process.argv[1]))(v); console.log(typeof r==="string"?r:JSON.stringify(r))' "$1"; }
jwt_payload() { node -e 'console.log(Buffer.from(process.argv[1].split(".")[1],"base64url").toString())' "$1"; }
status_of() { head -1 "$1" | tr -d '\r' | cut -d' ' -f2; }
location_of() { tr -d '\r' < "$1" | sed -n 's/^[Ll]ocation: //p'; }

# A back-channel logout receiver that writes each POST body to a file.
node -e '
  const fs=require("fs"); let n=0;
  require("http").createServer((q,s)=>{let b="";q.on("data",d=>b+=d);q.on("end",()=>{fs.writeFileSync(process.argv[2]+"/bcl."+(++n),b);s.end()})})
    .listen(+process.argv[1],"127.0.0.1");' "$bcl_port" "$tmp" &
pids+=($!)

clients=$(printf '[{"client_id":"sidegate","client_secret":"s3cret","redirect_uris":["%s/callback"],"post_logout_redirect_uris":["%s/bye"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"client_secret_basic","backchannel_logout_uri":"http://127.0.0.1:%s/bcl","backchannel_logout_session_required":true}]' "$RP" "$RP" "$bcl_port")
IDP_PORT=$port IDP_CLIENTS=$clients node "$here/server.js" > "$tmp/idp.out" 2> "$tmp/idp.err" &
pids+=($!)
for _ in $(seq 1 100); do grep -q '^IDP READY ' "$tmp/idp.out" 2>/dev/null && break; sleep 0.1; done
[ "$(cat "$tmp/idp.out")" = "IDP READY $B" ] || fail "no 'IDP READY $B' line: $(cat "$tmp/idp.out")"
ok "IDP READY $B"

curl -sf "$B/.well-known/openid-configuration" > "$tmp/disco.json" || fail "discovery"
[ "$(json v.issuer < "$tmp/disco.json")" = "$B" ] || fail "issuer"
[ "$(json 'v.code_challenge_methods_supported.join()' < "$tmp/disco.json")" = "S256" ] || fail "pkce methods"
ok "discovery"

# login USER: the full authorization-code + PKCE flow with a cookie jar; sets CODE and VERIFIER.
login() {
  local user=$1 steps=""
  VERIFIER=$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64url"))')
  local challenge
  challenge=$(node -e 'console.log(require("crypto").createHash("sha256").update(process.argv[1]).digest("base64url"))' "$VERIFIER")
  local url="$B/auth?client_id=sidegate&redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fcallback&response_type=code&scope=openid%20email%20profile&state=st-$user&nonce=n-$user&code_challenge=$challenge&code_challenge_method=S256"
  for _ in $(seq 1 10); do
    curl -s -D "$tmp/h" -o "$tmp/body" -c "$jar" -b "$jar" "$url"
    local st loc
    st=$(status_of "$tmp/h"); loc=$(location_of "$tmp/h")
    steps+="GET ${url#"$B"} -> $st; "
    if [ -n "$loc" ]; then
      case "$loc" in
        "$RP"/callback*) CALLBACK=$loc; CODE=$(sed -n 's/.*[?&]code=\([^&]*\).*/\1/p' <<<"$loc"); LOGIN_STEPS=$steps; return 0 ;;
        /*) url="$B$loc" ;;
        *) url=$loc ;;
      esac
      continue
    fi
    [ "$st" = 200 ] || fail "GET $url -> $st: $(cat "$tmp/body")"
    local form=(-d prompt=consent) kind=consent
    if grep -q 'name="login"' "$tmp/body"; then form=(-d prompt=login -d "login=$user" -d password=x); kind=login; fi
    curl -s -D "$tmp/h" -o /dev/null -c "$jar" -b "$jar" "${form[@]}" "$url"
    st=$(status_of "$tmp/h"); loc=$(location_of "$tmp/h")
    steps+="POST ${url#"$B"} ($kind) -> $st; "
    [ "$st" = 303 ] || fail "POST $url -> $st"
    url=$loc
  done
  fail "login did not reach the callback: $steps"
}

token() { curl -s -u sidegate:s3cret "$@" "$B/token"; }

login alice
[[ "$CALLBACK" == "$RP/callback?code="*"&state=st-alice&iss=http%3A%2F%2F127.0.0.1%3A$port" ]] || fail "callback $CALLBACK"
ok "login alice: ${LOGIN_STEPS//$'\n'/}"

token -d grant_type=authorization_code -d "code=$CODE" --data-urlencode "redirect_uri=$RP/callback" -d "code_verifier=$VERIFIER" > "$tmp/tok.json"
AT=$(json v.access_token < "$tmp/tok.json"); RT=$(json v.refresh_token < "$tmp/tok.json"); IDT=$(json v.id_token < "$tmp/tok.json")
[ "$RT" != undefined ] || fail "no refresh_token: $(cat "$tmp/tok.json")"
claims=$(jwt_payload "$IDT")
for want in '"sub":"alice"' '"email":"alice@example.test"' '"email_verified":true' '"name":"Alice Admin"' '"preferred_username":"alice"' '"groups":["admins","staff"]' '"nonce":"n-alice"' '"sid":'; do
  [[ "$claims" == *"$want"* ]] || fail "ID token lacks $want: $claims"
done
ok "code exchange; ID token: $claims"

userinfo=$(curl -s -H "authorization: Bearer $AT" "$B/me")
[[ "$userinfo" == *'"groups":["admins","staff"]'* ]] || fail "userinfo: $userinfo"
ok "userinfo: $userinfo"

curl -s -X POST "$B/_test/reset" > /dev/null
token -d grant_type=refresh_token -d "refresh_token=$RT" > "$tmp/r1.json"
RT2=$(json v.refresh_token < "$tmp/r1.json")
[ "$RT2" != undefined ] && [ "$RT2" != "$RT" ] || fail "refresh: $(cat "$tmp/r1.json")"
ok "refresh rotates the refresh token"
reuse=$(token -d grant_type=refresh_token -d "refresh_token=$RT")
[[ "$reuse" == *'"error":"invalid_grant"'* ]] || fail "reuse: $reuse"
ok "reuse of the old refresh token: $reuse"
stats=$(curl -s "$B/_test/stats")
[[ "$stats" == *'"grant.success:refresh_token":1'* && "$stats" == *'"refresh_token.consumed":1'* && "$stats" == *'"grant.error:refresh_token":1'* ]] || fail "stats: $stats"
ok "stats: $stats"
after=$(token -d grant_type=refresh_token -d "refresh_token=$RT2")
[[ "$after" == *'"error":"invalid_grant"'* ]] || fail "rotated token survived reuse: $after"
ok "reuse revoked the whole grant (the rotated refresh token fails too)"

# A second login in the same browser session: the grant was revoked, so consent again (no login form).
login alice
[[ "$LOGIN_STEPS" != *"(login)"* && "$LOGIN_STEPS" == *"(consent)"* ]] || fail "relogin steps: $LOGIN_STEPS"
ok "relogin in the same session: $LOGIN_STEPS"
token -d grant_type=authorization_code -d "code=$CODE" --data-urlencode "redirect_uri=$RP/callback" -d "code_verifier=$VERIFIER" > "$tmp/tok.json"
IDT=$(json v.id_token < "$tmp/tok.json"); RT=$(json v.refresh_token < "$tmp/tok.json")
sid=$(jwt_payload "$IDT" | json v.sid)
# Once consented and not revoked, a further login goes straight through.
login alice
[[ "$LOGIN_STEPS" != *POST* ]] || fail "third login steps: $LOGIN_STEPS"
ok "login with a live session and grant: $LOGIN_STEPS"

# RP-initiated logout: GET /session/end -> 200 form (xsrf), POST /session/end/confirm xsrf + logout=yes.
curl -s -D "$tmp/h" -o "$tmp/end.html" -c "$jar" -b "$jar" \
  "$B/session/end?id_token_hint=$IDT&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fbye&state=lo1"
[ "$(status_of "$tmp/h")" = 200 ] || fail "/session/end -> $(status_of "$tmp/h")"
xsrf=$(sed -n 's/.*name="xsrf" value="\([^"]*\)".*/\1/p' "$tmp/end.html")
[ -n "$xsrf" ] || fail "no xsrf in the logout form"
curl -s -D "$tmp/h" -o /dev/null -c "$jar" -b "$jar" -d "xsrf=$xsrf" -d logout=yes "$B/session/end/confirm"
[ "$(status_of "$tmp/h")" = 303 ] || fail "/session/end/confirm -> $(status_of "$tmp/h")"
[ "$(location_of "$tmp/h")" = "$RP/bye?state=lo1" ] || fail "logout redirect $(location_of "$tmp/h")"
ok "RP-initiated logout -> 303 $RP/bye?state=lo1"
bcl=$(cat "$tmp"/bcl.* 2>/dev/null | head -1)
[[ "$bcl" == logout_token=* ]] || fail "no back-channel logout received"
lt=$(jwt_payload "${bcl#logout_token=}")
[ "$(json v.sid <<<"$lt")" = "$sid" ] || fail "logout token sid: $lt (want $sid)"
ok "back-channel logout token: $lt"
after=$(token -d grant_type=refresh_token -d "refresh_token=$RT")
[[ "$after" == *'"error":"invalid_grant"'* ]] || fail "refresh after logout: $after"
ok "refresh token revoked by logout"
stats=$(curl -s "$B/_test/stats")
[[ "$stats" == *'"backchannel.success":1'* && "$stats" == *'"end_session.success":1'* ]] || fail "stats: $stats"
ok "stats: $stats"
echo "smoke: OK"
