// A real OpenID Provider for the tests of the dashboards' OpenID Connect login: panva's node-oidc-provider
// (npm "oidc-provider", an OpenID Certified implementation), with a development configuration: the clients and
// users of a JSON file, a fresh RSA signing key, and a plain login form and consent form of our own (the
// provider's "devInteractions" accept any name and password; ours accept only the file's users).
//
//   node tests/oidc_provider.mjs CONFIG.json
//   CONFIG = {"port": 4000, "issuer": "http://127.0.0.1:4000",
//             "clients": [{"client_id": "tanjian", "client_secret": "...", "redirect_uris": ["http://.../cb"]}],
//             "users": {"ana": {"password": "...", "email": "ana@plant18.example", "email_verified": true}}}
//
// Prints "ready ISSUER" on stdout when it listens. Test use only.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'node:querystring';

import Provider from 'oidc-provider';

const conf = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

const provider = new Provider(conf.issuer, {
  clients: conf.clients.map((c) => ({
    grant_types: ['authorization_code'], response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic', ...c,
  })),
  jwks: { keys: [{ ...key, kid: 'test-rs256', alg: 'RS256', use: 'sig' }] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => true },
  cookies: { keys: ['a test provider cookie key'] },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const u = conf.users[sub];
    if (!u) return undefined;
    return {
      accountId: sub,
      async claims() { return { sub, email: u.email, email_verified: !!u.email_verified }; },
    };
  },
});

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head>`
  + `<body><h1>${esc(title)}</h1>${body}</body></html>`;
const readBody = (req) => new Promise((resolve, reject) => {
  let data = '';
  req.on('data', (d) => { data += d; });
  req.on('end', () => resolve(parse(data)));
  req.on('error', reject);
});

// the interactions: GET /interaction/UID (a form), POST /interaction/UID/login, POST /interaction/UID/confirm
provider.use(async (ctx, next) => {
  const m = ctx.path.match(/^\/interaction\/([^/]+)(?:\/(login|confirm))?$/);
  if (!m) return next();
  ctx.set('Cache-Control', 'no-store');
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { uid, prompt, params, session } = details;
  if (ctx.method === 'GET' && !m[2]) {
    ctx.type = 'html';
    if (prompt.name === 'login') {
      ctx.body = page('Sign-in', `<form method="post" action="/interaction/${esc(uid)}/login">`
        + '<input name="login" required><input name="password" type="password" required>'
        + '<button type="submit">Sign-in</button></form>');
    } else {
      ctx.body = page('Authorize', `<p>${esc(params.client_id)} asks for ${esc(params.scope)}</p>`
        + `<form method="post" action="/interaction/${esc(uid)}/confirm"><button type="submit">Continue</button></form>`);
    }
    return undefined;
  }
  if (ctx.method === 'POST' && m[2] === 'login') {
    const body = await readBody(ctx.req);
    const u = conf.users[body.login];
    if (!u || u.password !== body.password) {
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = page('Sign-in', '<p>wrong login or password</p>');
      return undefined;
    }
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: body.login } },
      { mergeWithLastSubmission: false });
    ctx.respond = false;
    return undefined;
  }
  if (ctx.method === 'POST' && m[2] === 'confirm') {
    const grant = details.grantId ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    const grantId = await grant.save();
    await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } },
      { mergeWithLastSubmission: true });
    ctx.respond = false;
    return undefined;
  }
  return next();
});

provider.listen(conf.port, '127.0.0.1', () => { process.stdout.write(`ready ${conf.issuer}\n`); });
