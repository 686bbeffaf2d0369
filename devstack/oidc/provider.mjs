// A loopback OpenID Connect provider for tests and `make demo` (npm `oidc-provider`).
//
// Usage: node provider.mjs CONFIG.json
//   {"port": 0, "clients": [{"client_id", "client_secret", "redirect_uris": [...]}],
//    "accounts": {"alice": {"password": "...", "groups": ["researchers"], "email": "..."}}}
// Prints one line `READY <issuer>` on stdout once listening (port 0 = pick a free port).
// With "control_secret" in the config, `PUT /control/accounts/<login>` (JSON {"groups": [...]})
// changes an account's groups and `DELETE` removes it, as an identity administrator would;
// requests must carry `Authorization: Bearer <control_secret>`.
//
// Unlike oidc-provider's devInteractions (which accept any password), the login form here checks
// the account's password, and consent is granted implicitly (first-party clients only).
import fs from 'node:fs';
import http from 'node:http';
import crypto from 'node:crypto';
import querystring from 'node:querystring';
import Provider from 'oidc-provider';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const accounts = config.accounts || {};
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid, error) {
  return `<!doctype html><html><head><title>Consortium sign-in</title></head><body>
<h1>Consortium sign-in</h1>${error ? `<p class="error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
  <input type="text" name="login" placeholder="login" required autofocus>
  <input type="password" name="password" placeholder="password" required>
  <button type="submit">Sign in</button>
</form></body></html>`;
}

function passwordMatches(account, password) {
  const a = Buffer.from(String(account?.password ?? crypto.randomUUID()));
  const b = Buffer.from(String(password));
  return a.length === b.length && crypto.timingSafeEqual(a, b) && account !== undefined;
}

const server = http.createServer();
server.listen(config.port || 0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: config.clients.map((c) => ({
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      ...c,
    })),
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email'],
      groups: ['groups'],
    },
    scopes: ['openid', 'profile', 'email', 'groups'],
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, id) {
      const account = accounts[id];
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            name: id,
            preferred_username: id,
            email: account.email || `${id}@example.org`,
            groups: account.groups || [],
          };
        },
      };
    },
    // first-party clients: grant every requested scope and claim without a consent screen
    async loadExistingGrant(ctx) {
      const existing = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (existing) return ctx.oidc.provider.Grant.find(existing);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid profile email groups');
      grant.addOIDCClaims(['sub', 'name', 'preferred_username', 'email', 'groups']);
      await grant.save();
      return grant;
    },
    // refresh tokens for confidential clients, as most enterprise providers issue them
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    ttl: {
      Session: 3600, Interaction: 600, AccessToken: config.access_token_ttl || 3600, Grant: 3600,
      RefreshToken: 86400,
    },
  });
  provider.on('server_error', (ctx, err) => console.error('oidc server_error', err));
  const callback = provider.callback();

  async function control(req, res, login) {
    const expected = Buffer.from(`Bearer ${config.control_secret}`);
    const given = Buffer.from(String(req.headers.authorization || ''));
    if (!config.control_secret || given.length !== expected.length
        || !crypto.timingSafeEqual(given, expected)) {
      res.writeHead(403);
      return res.end();
    }
    if (req.method === 'DELETE') {
      delete accounts[login];
    } else if (req.method === 'PUT' && Object.hasOwn(accounts, login)) {
      let body = '';
      for await (const chunk of req) body += chunk;
      accounts[login].groups = JSON.parse(body).groups || [];
    } else {
      res.writeHead(404);
      return res.end();
    }
    res.writeHead(204);
    return res.end();
  }

  server.on('request', async (req, res) => {
    const controlled = req.url.match(/^\/control\/accounts\/([^/?]+)$/);
    if (controlled) return control(req, res, decodeURIComponent(controlled[1]));
    const match = req.url.match(/^\/interaction\/([^/?]+)(\/login)?/);
    if (!match) return callback(req, res);
    try {
      const details = await provider.interactionDetails(req, res);
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        return res.end(loginPage(details.uid));
      }
      let body = '';
      for await (const chunk of req) body += chunk;
      const form = querystring.parse(body);
      const account = Object.hasOwn(accounts, form.login) ? accounts[form.login] : undefined;
      if (!passwordMatches(account, form.password || '')) {
        res.writeHead(401, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(loginPage(details.uid, 'Unknown login or wrong password.'));
      }
      return provider.interactionFinished(req, res, { login: { accountId: form.login } },
        { mergeWithLastSubmission: false });
    } catch (err) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      return res.end(`interaction failed: ${err.message}`);
    }
  });
  process.stdout.write(`READY ${issuer}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
