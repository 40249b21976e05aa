// The OpenID Connect provider the tests sign in through (panva's oidc-provider, as a real
// identity provider would run it): it listens on a free port of 127.0.0.1 and prints
// {"issuer": "http://127.0.0.1:<port>"} as its first line of output.
//
// Environment:
//   OIDC_REDIRECT_URI      kflow's callback (exact match), required
//   OIDC_POST_LOGOUT_URI   where the provider sends the browser after signing out
//   OIDC_CLOCK_OFFSET      seconds the provider's clock is off (-7200: two hours slow, so every
//                          ID token it issues expired an hour ago; 60: a minute fast)
//
// A user signs in at once with ?login_hint=<user> on the authorization request, or through a
// one-field form ("Användare") at /interaction/<uid>. There is no consent screen (kflow is a
// first-party client) and no password: what is tested is kflow's side of the protocol.
import http from 'node:http';
import { Provider } from 'oidc-provider';

const USERS = {
  // Known to kflow by e-mail.
  alice: { email: 'alice@example.se', email_verified: true, name: 'Alice Åström' },
  // Known by HSA-id (her e-mail in kflow differs), a member of mapped and unmapped groups.
  bertil: {
    email: 'bertil.berg@example.se',
    email_verified: true,
    name: 'Bertil Berg',
    hsa_id: 'SE2321000131-E000000000001',
    groups: ['kflow-samordnare-vgr', 'kflow-okand-enhet', 'annan-grupp'],
  },
  // Unknown to kflow.
  okand: { email: 'okand@example.se', email_verified: true, name: 'Olle Okänd' },
  // Has no e-mail claim at all.
  utanpost: { name: 'Utan Post' },
};

const offset = Number(process.env.OIDC_CLOCK_OFFSET || 0);
if (offset) {
  const realNow = Date.now;
  Date.now = () => realNow() + offset * 1000;
}
// With a slow clock every cookie would be born expired: lengthen their lives to match.
const slack = Math.max(0, -offset);

const server = http.createServer();
await new Promise((ok) => { server.listen(0, '127.0.0.1', ok); });
const issuer = `http://127.0.0.1:${server.address().port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: 'kflow',
    client_secret: 'test-secret',
    redirect_uris: [process.env.OIDC_REDIRECT_URI],
    post_logout_redirect_uris: process.env.OIDC_POST_LOGOUT_URI
      ? [process.env.OIDC_POST_LOGOUT_URI] : [],
  }],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'hsa_id', 'groups'],
  },
  async findAccount(ctx, sub) {
    return USERS[sub] && { accountId: sub, claims: () => ({ sub, ...USERS[sub] }) };
  },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      // The confirmation page, in Swedish and with nothing fetched from elsewhere.
      async logoutSource(ctx, form) {
        ctx.body = `<!doctype html><html lang="sv"><title>Test-IdP</title><main>
<h1>Logga ut från Test-IdP?</h1>${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Ja, logga ut</button>
</main></html>`;
      },
    },
  },
  pkce: { required: () => true },
  cookies: { keys: ['test-only'] },
  ttl: {
    AccessToken: 3600 + slack,
    AuthorizationCode: 60,
    Grant: 3600 + slack,
    IdToken: 3600,
    Interaction: 3600 + slack,
    Session: 3600 + slack,
  },
  async loadExistingGrant(ctx) { // a first-party client: no consent screen
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.account.accountId,
    });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});

async function interaction(req, res) {
  const { uid, params } = await provider.interactionDetails(req, res);
  let login = params.login_hint;
  if (req.method === 'POST') {
    let body = '';
    for await (const chunk of req) body += chunk;
    login = new URLSearchParams(body).get('login');
  }
  if (USERS[login]) {
    await provider.interactionFinished(
      req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false },
    );
    return;
  }
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><html lang="sv"><title>Test-IdP</title><main><h1>Test-IdP</h1>
<form method="post" action="/interaction/${uid}">
<label>Användare <input name="login" autocomplete="username"></label>
<button>Logga in</button></form></main></html>`);
}

const app = provider.callback();
server.on('request', (req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((error) => { res.statusCode = 500; res.end(String(error)); });
  } else {
    app(req, res);
  }
});
process.on('SIGTERM', () => { server.close(); process.exit(0); });
console.log(JSON.stringify({ issuer }));
