// A real OpenID Provider for sidegate's tests and `make demo`: panva's certified
// oidc-provider (9.x) with its development login form (any password), a few users with
// email and groups, PKCE (S256) required, refresh-token rotation, RP-initiated and
// back-channel logout, and a counter hook at /_test/stats. Configured only through
// environment variables (see README.md). Test use only: never expose it.
import http from 'node:http';
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

function fail(message) {
  console.error(`idp: ${message}`);
  process.exit(2);
}

const port = Number(process.env.IDP_PORT);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  fail('IDP_PORT (a TCP port number) is required');
}
const issuer = process.env.IDP_ISSUER || `http://127.0.0.1:${port}`;

let clients;
if (process.env.IDP_CLIENTS) {
  try {
    clients = JSON.parse(process.env.IDP_CLIENTS);
  } catch (err) {
    fail(`IDP_CLIENTS is not valid JSON: ${err.message}`);
  }
  if (!Array.isArray(clients)) fail('IDP_CLIENTS must be a JSON array of client metadata objects');
} else {
  clients = [{
    client_id: 'sidegate',
    client_secret: 'sidegate-test-secret',
    redirect_uris: ['http://127.0.0.1:4180/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }];
}

// Service accounts (client_credentials) for machine access, and the groups their access
// tokens carry: IDP_SERVICE_CLIENTS='[{"client_id":"ci","client_secret":"…","groups":["backup"]}]'.
// With IDP_API_AUDIENCE set, access tokens for that resource are JWTs with that audience.
let serviceClients = [];
if (process.env.IDP_SERVICE_CLIENTS) {
  try {
    serviceClients = JSON.parse(process.env.IDP_SERVICE_CLIENTS);
  } catch (err) {
    fail(`IDP_SERVICE_CLIENTS is not valid JSON: ${err.message}`);
  }
}
const serviceGroups = Object.fromEntries(serviceClients.map((c) => [c.client_id, c.groups || []]));
for (const c of serviceClients) {
  clients.push({
    client_id: c.client_id,
    client_secret: c.client_secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  });
}
const apiAudience = process.env.IDP_API_AUDIENCE || '';

function seconds(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) fail(`${name} must be a positive number of seconds, got ${JSON.stringify(raw)}`);
  return n;
}

const USERS = {
  alice: { name: 'Alice Admin', email: 'alice@example.test', groups: ['admins', 'staff'] },
  bob: { name: 'Bob Builder', email: 'bob@example.test', groups: ['staff'] },
  carol: { name: 'Carol Contractor', email: 'carol@partner.test', groups: [] },
};

function account(id) {
  const known = USERS[id] || { name: id, email: `${id}@example.test`, groups: [] };
  return {
    sub: id,
    preferred_username: id,
    name: known.name,
    email: known.email,
    email_verified: true,
    groups: known.groups,
  };
}

// A fresh RS256 signing key, with a fresh kid, on every start (as after a key rotation);
// relying parties fetch it from jwks_uri.
// Generated as PEM and re-imported before the JWK export: exporting the KeyObject that
// generateKeyPairSync returns can deadlock Node 20 when a garbage collection runs during the
// export (the key-generation job's destructor takes the lock the export holds); seen as an
// IdP that never started listening, about once in forty starts under load.
const { privateKey: privatePem } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const signingKey = { ...createPrivateKey(privatePem).export({ format: 'jwk' }), kid: `test-rs256-${randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' };

// Test hook: counts of provider events, served at GET /_test/stats.
const counters = {};
// Test hook: users disabled with POST /_test/disable?user=… (and enabled again with
// POST /_test/enable?user=…).
const disabled = new Set();
const count = (name) => { counters[name] = (counters[name] || 0) + 1; };

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: ['sidegate-test-idp-cookie-key-1', 'sidegate-test-idp-cookie-key-0'] },
  // A disabled user (POST /_test/disable?user=…) is an unknown account: refreshes and
  // sign-ins for them fail, as at an IdP where the admin disabled the user.
  findAccount: async (_ctx, id) => (disabled.has(id) ? undefined : {
    accountId: id,
    claims: async () => account(id),
  }),
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'groups'],
    groups: ['groups'],
  },
  // Put the scope-granted claims (email, groups, name, ...) into the ID token itself.
  conformIdTokenClaims: false,
  // IDP_SKIP_CONSENT=1 (make demo): grant the requested scopes without a consent screen,
  // as an IdP does for its own first-party clients (oidc-provider's skip-consent recipe).
  ...(process.env.IDP_SKIP_CONSENT === '1' ? {
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope(String(ctx.oidc.params.scope || 'openid'));
      await grant.save();
      return grant;
    },
  } : {}),
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    userinfo: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: Boolean(apiAudience),
      defaultResource: () => 'urn:sidegate:api',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        audience: apiAudience,
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  // Service accounts' JWT access tokens carry their groups.
  extraTokenClaims: async (_ctx, token) => (token.kind === 'ClientCredentials' && serviceGroups[token.clientId]
    ? { groups: serviceGroups[token.clientId] }
    : undefined),
  // Refresh tokens for every client allowed the grant, without requiring offline_access.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  // Tokens stop working when their TTL says, not 15 s later (the library's default
  // tolerance), so tests of expiry with short IDP_*_TTL values are exact.
  clockTolerance: 0,
  ttl: {
    AccessToken: seconds('IDP_ACCESS_TOKEN_TTL', 3600),
    IdToken: seconds('IDP_ID_TOKEN_TTL', 3600),
    RefreshToken: seconds('IDP_REFRESH_TOKEN_TTL', 86400),
    AuthorizationCode: 60,
    Grant: 14 * 86400,
    Interaction: 3600,
    Session: 14 * 86400,
    ClientCredentials: 600,
  },
  // oidc-provider refuses outgoing requests to loopback addresses (an SSRF guard on the
  // undici dispatcher it passes in); the tests' back-channel logout receivers are on
  // 127.0.0.1, so drop that dispatcher. Test configuration only.
  fetch: (url, options) => {
    const { dispatcher, ...rest } = options || {};
    return globalThis.fetch(url, rest);
  },
});

for (const event of [
  'grant.success', 'grant.error', 'grant.revoked',
  'refresh_token.consumed', 'refresh_token.saved',
  'backchannel.success', 'backchannel.error',
  'end_session.success', 'end_session.error',
  'authorization.success', 'authorization.error',
  'introspection.error', 'revocation.error', 'userinfo.error',
  'server_error',
]) {
  provider.on(event, (ctx, ...rest) => {
    count(event);
    if (event === 'grant.success' || event === 'grant.error') {
      const grantType = ctx?.oidc?.params?.grant_type;
      if (grantType) count(`${event}:${grantType}`);
    }
    if (event.endsWith('.error') || event === 'server_error') {
      const err = event === 'backchannel.error' ? rest[0] : rest[0] || ctx;
      console.error(`idp: ${event}: ${err?.message || err}${err?.error_description ? ` (${err.error_description})` : ''}`);
    }
  });
}

const handler = provider.callback();
const server = http.createServer((req, res) => {
  const { pathname } = new URL(req.url, 'http://idp.invalid');
  if (pathname === '/_test/stats' && req.method === 'GET') {
    res.setHeader('content-type', 'application/json');
    res.setHeader('cache-control', 'no-store');
    res.end(JSON.stringify(counters));
    return;
  }
  if ((pathname === '/_test/disable' || pathname === '/_test/enable') && req.method === 'POST') {
    const user = new URL(req.url, 'http://idp.invalid').searchParams.get('user');
    if (!user) {
      res.statusCode = 400;
      res.end('{"error":"user is required"}');
      return;
    }
    if (pathname === '/_test/disable') disabled.add(user); else disabled.delete(user);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ disabled: [...disabled] }));
    return;
  }
  if (pathname === '/_test/reset' && req.method === 'POST') {
    for (const k of Object.keys(counters)) delete counters[k];
    res.setHeader('content-type', 'application/json');
    res.end('{}');
    return;
  }
  handler(req, res);
});

server.on('error', (err) => fail(`cannot listen on 127.0.0.1:${port}: ${err.message}`));
server.listen(port, '127.0.0.1', () => {
  console.log(`IDP READY ${issuer}`);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
