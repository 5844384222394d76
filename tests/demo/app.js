// The demo app: a page that shows who you are and which headers arrived from the proxy.
// Usage: node app.js PORT LOGOUT_URL
import http from 'node:http';

const port = Number(process.argv[2] || 8081);
const logoutUrl = process.argv[3] || '/logout';
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

const server = http.createServer((req, res) => {
  const h = req.headers;
  const user = h['x-forwarded-user'];
  // Credentials sidegate injects are shown masked: the first four characters only.
  const secret = (k) => k === 'authorization';
  const mask = (v) => `${String(v).slice(0, 4)}… (${String(v).length} characters)`;
  const rows = Object.entries(h)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `<tr${k.startsWith('x-forwarded-') || secret(k) ? ' class="id"' : ''}><th>${escape(k)}</th><td>${escape(secret(k) ? mask(v) : v)}</td></tr>`)
    .join('');
  const cookies = String(h.cookie || '').split(';').map((c) => c.trim().split('=')[0]).filter(Boolean);
  const sessionCookie = cookies.includes('_sidegate')
    ? 'arrived (it should not: check the proxy recipe)'
    : 'did not arrive (sidegate keeps it to itself)';
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>sidegate demo app</title>
<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:3rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd;font-size:.9rem;word-break:break-all}
tr.id{background:#eef6ff}code{background:#f3f3f3;padding:0 .2rem}</style></head><body>
<h1>Hello, <span id="user">${escape(user || 'nobody')}</span></h1>
<p>Email: <span id="email">${escape(h['x-forwarded-email'] || '')}</span><br>
Groups: <span id="groups">${escape(h['x-forwarded-groups'] || '')}</span><br>
You asked for <code id="path">${escape(req.url)}</code>.<br>
Credential from sidegate: <span id="credential">${escape(h.authorization ? mask(h.authorization) : 'none for this app')}</span><br>
sidegate's session cookie: <span id="session-cookie">${escape(sessionCookie)}</span></p>
<p><a id="logout" href="${escape(logoutUrl)}">Sign out</a> (ends the sidegate session and, when the identity provider offers it, the session there)</p>
<h2>Headers this app received</h2><table>${rows}</table></body></html>`);
});
server.listen(port, '127.0.0.1', () => console.log(`APP READY http://127.0.0.1:${port}`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
