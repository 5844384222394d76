// A real OpenID Provider for sidegate's tests and `make demo`: panva's certified
// oidc-provider with its development login form (any password), a few users with email
// and groups, PKCE required, refresh-token rotation, RP-initiated and back-channel logout.
// Configured only through environment variables (see README.md). Test use only.
import http from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.IDP_PORT);
if (!port) {
  console.error('IDP_PORT is required');
  process.exit(2);
}
const issuer = process.env.IDP_ISSUER || `http://127.0.0.1:${port}`;
const clients = process.env.IDP_CLIENTS
  ? JSON.parse(process.env.IDP_CLIENTS)
  : [{
      client_id: 'sidegate',
      client_secret: 'sidegate-test-secret',
      redirect_uris: ['http://127.0.0.1:4180/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    }];
const seconds = (name, fallback) => Number(process.env[name] || fallback);

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

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', alg: 'RS256', use: 'sig' };

const counters = {};
const count = (name) => { counters[name] = (counters[name] || 0) + 1; };

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: ['sidegate-test-idp-cookie-key'] },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => account(id),
  }),
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'groups'],
    groups: ['groups'],
  },
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    userinfo: { enabled: true },
    clientCredentials: { enabled: true },
  },
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  ttl: {
    AccessToken: seconds('IDP_ACCESS_TOKEN_TTL', 3600),
    IdToken: seconds('IDP_ID_TOKEN_TTL', 3600),
    RefreshToken: seconds('IDP_REFRESH_TOKEN_TTL', 86400),
    AuthorizationCode: 60,
    Grant: 86400,
    Interaction: 3600,
    Session: 86400,
    ClientCredentials: 600,
  },
  // oidc-provider refuses outgoing requests to loopback addresses (an SSRF guard); the
  // tests' back-channel logout receiver is on 127.0.0.1. Test configuration only.
  fetch: (url, options) => {
    const { dispatcher, ...rest } = options || {};
    return globalThis.fetch(url, rest);
  },
});

for (const event of ['grant.success', 'grant.error', 'refresh_token.consumed', 'backchannel.success',
  'backchannel.error', 'end_session.success', 'authorization.success', 'authorization.error']) {
  provider.on(event, (ctx) => {
    count(event);
    const grantType = event.startsWith('grant.') && ctx?.oidc?.params?.grant_type;
    if (grantType) count(`${event}:${grantType}`);
  });
}

const handler = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url === '/_test/stats' && req.method === 'GET') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(counters));
    return;
  }
  if (req.url === '/_test/reset' && req.method === 'POST') {
    for (const k of Object.keys(counters)) delete counters[k];
    res.end('{}');
    return;
  }
  handler(req, res);
});

server.listen(port, '127.0.0.1', () => {
  console.log(`IDP READY ${issuer}`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
