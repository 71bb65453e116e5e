// A real OpenID Connect provider for Skjold's single sign-on tests: the certified
// `oidc-provider` package, three issuers on one port, each with its own signing key:
//
//   /entra/<TID>/v2.0   configured like Microsoft Entra ID: a tenant-specific issuer, `tid`
//   /google             configured like Google: `hd` (the Workspace domain)
//   /generic            a plain OpenID Connect provider
//
// Usage: node provider.mjs PORT REDIRECT_URI[,REDIRECT_URI…]
//
// Every issuer has one client: `skjold-test` / `skjold-test-secret`. Its login page (the
// provider's own, at <issuer>/interaction/<uid>) takes any username with the password
// `pw`; "Use my second factor" adds `mfa`/`otp` to the token's `amr`. A username starting
// with `unverified` gets `email_verified: false`.
//
// For the refusal tests the process has a control surface beside the issuers (127.0.0.1
// only, like everything here):
//   POST /__test/tamper {"prefix": "/generic", "claims": {...}, "foreign_key": bool}
//        the next ID token that issuer hands out is re-signed with these claims changed
//        (with `foreign_key`, by a key that is in no key set)
//   POST /__test/rotate {"prefix": "/generic"}   a new signing key for that issuer
//   GET  /__test/stats                           how often each issuer's keys were read
import http from 'node:http';
import { Provider } from 'oidc-provider';
import * as jose from 'jose';

const port = Number(process.argv[2]);
const redirectUris = (process.argv[3] || '').split(',').filter(Boolean);
if (!port || redirectUris.length === 0) {
  console.error('usage: node provider.mjs PORT REDIRECT_URI[,REDIRECT_URI…]');
  process.exit(2);
}
export const TID = '11111111-2222-3333-4444-555555555555';
const HD = 'example.test';
const origin = `http://127.0.0.1:${port}`;

const issuers = {
  [`/entra/${TID}/v2.0`]: { kind: 'entra' },
  '/google': { kind: 'google' },
  '/generic': { kind: 'oidc' },
};

let keyCounter = 0;
async function newKey() {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  keyCounter += 1;
  return { ...jwk, kid: `key-${keyCounter}-${Date.now()}`, alg: 'RS256', use: 'sig' };
}

const tamper = {};
const jwksReads = {};

function claimsFor(kind, login) {
  const email = login.includes('@') ? login : `${login}@${HD}`;
  const claims = {
    sub: `sub-${login}`,
    email,
    email_verified: !login.startsWith('unverified'),
    name: login.charAt(0).toUpperCase() + login.slice(1),
    preferred_username: email,
  };
  if (kind === 'entra') claims.tid = TID;
  if (kind === 'google') claims.hd = email.split('@')[1];
  return claims;
}

async function build(prefix) {
  const { kind } = issuers[prefix];
  const key = await newKey();
  const provider = new Provider(`${origin}${prefix}`, {
    clients: [{
      client_id: 'skjold-test',
      client_secret: 'skjold-test-secret',
      redirect_uris: redirectUris,
      response_types: ['code'],
      grant_types: ['authorization_code'],
    }],
    jwks: { keys: [key] },
    claims: {
      // The session's claims (as oidc-provider's defaults have them), and amr.
      acr: null, amr: null, auth_time: null, sid: null, iss: null,
      openid: ['sub', 'tid', 'hd', 'acr', 'amr', 'auth_time'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `${prefix}/interaction/${interaction.uid}` },
    findAccount: async (ctx, sub) => ({
      accountId: sub,
      claims: async () => claimsFor(kind, sub.replace(/^sub-/, '')),
    }),
    ttl: { Session: 600, Interaction: 600, Grant: 600, AccessToken: 600, AuthorizationCode: 60, IdToken: 600 },
  });
  provider.use(async (ctx, next) => {
    if (ctx.path === '/jwks') jwksReads[prefix] = (jwksReads[prefix] || 0) + 1;
    await next();
    if (process.env.SKJOLD_OIDC_DEBUG && ctx.path === '/token' && ctx.body && ctx.body.id_token) {
      console.error('id_token', JSON.stringify(jose.decodeJwt(ctx.body.id_token)));
    }
    const t = tamper[prefix];
    if (ctx.path === '/token' && ctx.method === 'POST' && t && ctx.body && ctx.body.id_token) {
      delete tamper[prefix];
      const payload = { ...jose.decodeJwt(ctx.body.id_token), ...(t.claims || {}) };
      for (const [k, v] of Object.entries(payload)) if (v === null) delete payload[k];
      const signer = t.foreign_key ? await newKey() : key;
      const signingKey = await jose.importJWK(signer, 'RS256');
      ctx.body = {
        ...ctx.body,
        id_token: await new jose.SignJWT(payload)
          .setProtectedHeader({ alg: 'RS256', kid: signer.kid, typ: 'JWT' })
          .sign(signingKey),
      };
    }
  });
  issuers[prefix].provider = provider;
  issuers[prefix].callback = provider.callback();
}

for (const prefix of Object.keys(issuers)) await build(prefix);

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(prefix, uid, error) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test identity provider</title></head>
<body><main><h1>Test identity provider</h1><p>${escape(prefix)}</p>
${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="${escape(prefix)}/interaction/${escape(uid)}">
<label>Username <input name="login" autocomplete="username" autofocus></label>
<label>Password <input name="password" type="password"></label>
<label><input type="checkbox" name="mfa" value="1"> Use my second factor</label>
<button type="submit">Sign in</button>
</form></main></body></html>`;
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString();
}

async function interaction(prefix, uid, req, res) {
  const { provider } = issuers[prefix];
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(loginPage(prefix, details.uid));
    return;
  }
  const form = new URLSearchParams(await readBody(req));
  const login = (form.get('login') || '').trim().toLowerCase();
  if (!login || form.get('password') !== 'pw') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(loginPage(prefix, details.uid, 'Wrong username or password.'));
    return;
  }
  const accountId = `sub-${login}`;
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(String(details.params.scope || 'openid'));
  const grantId = await grant.save();
  const amr = form.get('mfa') ? ['pwd', 'mfa', 'otp'] : ['pwd'];
  await provider.interactionFinished(req, res, {
    login: { accountId, amr, acr: form.get('mfa') ? 'urn:skjold:test:mfa' : 'urn:skjold:test:pwd', remember: false },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

async function control(req, res) {
  const send = (code, body) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method === 'GET' && req.url === '/__test/stats') return send(200, { jwks: jwksReads });
  const body = JSON.parse((await readBody(req)) || '{}');
  if (!issuers[body.prefix]) return send(404, { error: 'no such issuer' });
  if (req.url === '/__test/tamper') {
    tamper[body.prefix] = { claims: body.claims, foreign_key: !!body.foreign_key };
    return send(200, { ok: true });
  }
  if (req.url === '/__test/rotate') {
    await build(body.prefix);
    return send(200, { ok: true });
  }
  return send(404, { error: 'no such control' });
}

http.createServer(async (req, res) => {
  try {
    if (req.url.startsWith('/__test/')) return await control(req, res);
    const prefix = Object.keys(issuers).find((p) => req.url === p || req.url.startsWith(`${p}/`) || req.url.startsWith(`${p}?`));
    if (!prefix) {
      res.writeHead(404).end();
      return;
    }
    const rest = req.url.slice(prefix.length) || '/';
    const m = rest.match(/^\/interaction\/([A-Za-z0-9_-]+)$/);
    if (m) return await interaction(prefix, m[1], req, res);
    req.originalUrl = req.url;
    req.url = rest;
    return issuers[prefix].callback(req, res);
  } catch (e) {
    console.error(e);
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(e && e.message));
  }
}).listen(port, '127.0.0.1', () => {
  console.log(`oidc test provider on ${origin}`);
});
