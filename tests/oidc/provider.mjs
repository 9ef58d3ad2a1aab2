// A real OpenID Provider for the tests: panva's oidc-provider (OpenID-certified), one
// confidential client, and scripted logins with no UI.
//
//   node tests/oidc/provider.mjs   (env: PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI,
//                                    LOGIN_FORM)
//
// LOGIN_FORM=1 (the browser tests): each login interaction shows a sign-in form (user and
// password `demo`) instead of being scripted; `/test/next` is then not used.
//
// Prints `listening on http://127.0.0.1:PORT/` once it answers. Test controls (loopback
// test fixture only):
//   POST /test/next?account=NAME[&auth_time=fresh|stale]
//        who the next login interaction signs in, and whether it reports a fresh
//        authentication time (`fresh`, the default) or the SSO session's first login, at
//        least 10 minutes back (`stale`: a provider that did not really ask again).
//   GET  /test/logins   {"logins": N}: how many times credentials were asked for.
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const clientId = process.env.CLIENT_ID ?? 'ward';
const clientSecret = process.env.CLIENT_SECRET ?? 'ward-secret';
const redirectUri = process.env.REDIRECT_URI;
const loginForm = process.env.LOGIN_FORM === '1';
const PASSWORD = 'demo';

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

/** The hospital's sign-in page (LOGIN_FORM=1): asks for a user and a password. */
function formPage(uid, reasons, error = '') {
  const again = reasons.includes('login_prompt') || reasons.includes('max_age')
    ? '<p id=again>The application asks you to confirm who you are: sign in again.</p>' : '';
  return `<!doctype html><html lang=en><meta charset=utf-8><title>Hospital sign-in</title>
<h1>Hospital sign-in</h1>${again}${error ? `<p id=error>${esc(error)}</p>` : ''}
<form method=post action="/interaction/${esc(uid)}" id=op-login>
<label>User <input name=login required autofocus></label>
<label>Password <input name=password type=password required></label>
<button type=submit>Sign in</button></form></html>`;
}

async function formBody(req) {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 4096) throw new Error('form too long');
  }
  return new URLSearchParams(text);
}

let next = { account: 'dr-a', authTime: 'fresh' };
let logins = 0;
/** The first login's time per account (seconds): what a `stale` login reports. */
const firstLogin = new Map();

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return { sub: id }; } };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  features: { devInteractions: { enabled: false } },
  // A first-party client: no consent screen (the grant is made on the first login).
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid');
    await grant.save();
    return grant;
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err.message));

const handle = provider.callback();

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  try {
    if (url.pathname === '/test/next' && req.method === 'POST') {
      next = {
        account: url.searchParams.get('account') ?? 'dr-a',
        authTime: url.searchParams.get('auth_time') ?? 'fresh',
      };
      res.writeHead(204).end();
      return;
    }
    if (url.pathname === '/test/logins') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ logins }));
      return;
    }
    if (url.pathname.startsWith('/interaction/')) {
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name === 'login') {
        let { account, authTime } = next;
        if (loginForm) {
          const html = { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' };
          if (req.method !== 'POST') {
            res.writeHead(200, html).end(formPage(details.uid, details.prompt.reasons));
            return;
          }
          const form = await formBody(req);
          account = (form.get('login') ?? '').trim();
          authTime = 'fresh';
          if (!account || form.get('password') !== PASSWORD) {
            res.writeHead(401, html).end(formPage(details.uid, details.prompt.reasons, 'Wrong user or password.'));
            return;
          }
        }
        // "The user typed the password": counted, then the account of /test/next.
        logins += 1;
        const now = Math.floor(Date.now() / 1000);
        if (!firstLogin.has(account)) firstLogin.set(account, now);
        const ts = authTime === 'stale' ? Math.min(firstLogin.get(account), now - 600) : now;
        await provider.interactionFinished(req, res, {
          login: { accountId: account, ts },
        }, { mergeWithLastSubmission: false });
        return;
      }
      await provider.interactionFinished(req, res, {
        error: 'access_denied',
        error_description: `unscripted prompt ${details.prompt.name}`,
      }, { mergeWithLastSubmission: false });
      return;
    }
    handle(req, res);
  } catch (err) {
    console.error('provider fixture:', err.message);
    if (!res.headersSent) res.writeHead(500).end();
  }
});

server.listen(port, '127.0.0.1', () => {
  console.log(`listening on ${issuer}/`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
