// Real OpenID Provider for the tower-oidc integration tests.
//
// Runs `oidc-provider` (panva) on 127.0.0.1 with its built-in development
// interactions (plain HTML login + consent forms, drivable with form posts).
//
// Environment:
//   PORT            port to listen on (default 0 = any free port)
//   USERS_SET       which user directory to serve: "a" (default) or "b";
//                   lets a second, independent provider be started later
//   ACCESS_TOKEN_TTL  access token lifetime in seconds (default 3600)
//   ISSUER_LABEL    reserved, currently unused
//   SIGNING_KID     the `kid` of the signing key (default test-rs256-<USERS_SET>); the key
//                   itself is fresh at every start, so a restart with the same SIGNING_KID is a
//                   provider reusing a key id, and one with another is a key rotation
//   APP_ORIGINS     comma-separated app origins (e.g. http://127.0.0.1:41234) registered
//                   besides the fixed http://127.0.0.1:3999: each adds the redirect URI
//                   <origin>/auth/callback and the post-logout URIs <origin>/public and
//                   <origin>/signed-out (for the browser tests, tests/browser)
//   RP_INITIATED_LOGOUT  "off" disables RP-initiated logout: discovery has no
//                   end_session_endpoint (default on; for the diagnostics tests)
//   API_AUDIENCE    an API's audience (resource indicator, RFC 8707): when set, resource
//                   indicators and the client credentials grant are on, and the client
//                   tower-oidc-api-client (secret as the others) gets JWT access tokens
//                   (typ at+jwt, scope reports:read) for it with `resource=<API_AUDIENCE>`
//                   (for tests/bearer.rs; unset, nothing changes for the other tests).
//                   Then too: token introspection and revocation are on (opaque access
//                   tokens, issued without `resource`, can be introspected and revoked);
//                   users' access tokens carry their email, name and groups; ID tokens
//                   carry the scopes' claims (so a login that asks for the API's audience,
//                   whose access token cannot open userinfo, still gets them); and GET
//                   /_test/hits counts the introspection requests
//   BACKCHANNEL_LOGOUT_URI  turns on back-channel logout (OpenID Connect Back-Channel
//                   Logout 1.0) and registers this URI as every client's
//                   backchannel_logout_uri, with backchannel_logout_session_required (so ID
//                   and logout tokens carry `sid`); unset: off (for tests/real_provider.rs,
//                   whose app listens on a port of its own)
//   TOKEN_AUTH_METHODS  comma-separated token endpoint auth methods the provider supports
//                   and advertises (default: oidc-provider's own list); clients registered
//                   for another method are left out (for the doctor's tests)
//   CLIENT_JWKS     a JWK Set (JSON) of a client's public keys: registers the clients
//                   tower-oidc-test-pkjwt (private_key_jwt with these keys) and
//                   tower-oidc-test-secret-jwt (client_secret_jwt, the common secret)
//                   (for tests/demanding.rs; unset, neither exists)
//   REQUIRE_PAR     "on": pushed authorization requests are required of every client
//                   (discovery says require_pushed_authorization_requests; default off,
//                   though PAR stays available as oidc-provider enables it by default)
//   JWT_USERINFO    "on": userinfo answers with a signed JWT (application/jwt, RS256) for
//                   every client (features.jwtUserinfo; default off)
//   REFRESH_ROTATION  "on": every refresh token grant answers with a new refresh token
//                   (rotation); "off": never; unset: oidc-provider's default (for
//                   tests/refresh.rs)
//   DPOP_NONCE      "on": DPoP proofs (features.dPoP, on by default in oidc-provider 9) must
//                   carry a server nonce at the token endpoint ("token") or there and at
//                   userinfo ("on"); unset: no nonce is asked for
//   TEST_CONTROL    "on": test routes, for tests/refresh.rs: GET /_test/hits (also counts the
//                   refresh token grants and the revocations), GET
//                   /_test/groups?user=U&groups=a,b (sets a user's groups), GET
//                   /_test/disable?user=U (the account is gone: its refresh tokens get
//                   invalid_grant), GET /_test/revoke-grant?token=AT (the grant behind
//                   access token AT is revoked: its refresh tokens get invalid_grant),
//                   GET /_test/outage?on=1|0 (while on, every connection to
//                   /token is dropped, as by a provider that is down); and token revocation
//                   (RFC 7009) is on
//
// Once listening, prints exactly one line to stdout:
//   ISSUER=http://127.0.0.1:<port>
// Everything else (oidc-provider's dev warnings) goes to stderr.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

const HOST = '127.0.0.1';
const PORT = Number.parseInt(process.env.PORT ?? '0', 10) || 0;
const USERS_SET = process.env.USERS_SET || 'a';
const ACCESS_TOKEN_TTL = Number.parseInt(process.env.ACCESS_TOKEN_TTL ?? '3600', 10) || 3600;
const APP_ORIGINS = (process.env.APP_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean);
for (const origin of APP_ORIGINS) {
  let url;
  try {
    url = new URL(origin);
  } catch {
    url = undefined;
  }
  if (!url || url.origin !== origin.replace(/\/$/, '')) {
    console.error(`APP_ORIGINS: \`${origin}\` is not an origin such as http://127.0.0.1:3000`);
    process.exit(2);
  }
}
const appOrigins = APP_ORIGINS.map((o) => o.replace(/\/$/, ''));
const RP_INITIATED_LOGOUT = (process.env.RP_INITIATED_LOGOUT ?? 'on') !== 'off';
const API_AUDIENCE = process.env.API_AUDIENCE ?? '';
const BACKCHANNEL_LOGOUT_URI = process.env.BACKCHANNEL_LOGOUT_URI || undefined;
const CLIENT_JWKS = process.env.CLIENT_JWKS ? JSON.parse(process.env.CLIENT_JWKS) : undefined;
const REQUIRE_PAR = process.env.REQUIRE_PAR === 'on';
const JWT_USERINFO = process.env.JWT_USERINFO === 'on';
const REFRESH_ROTATION = process.env.REFRESH_ROTATION || undefined;
const TEST_CONTROL = process.env.TEST_CONTROL === 'on';
const DPOP_NONCE = process.env.DPOP_NONCE || undefined;
// Accounts switched off through /_test/disable, and whether /token is "down".
const DISABLED = new Set();
let outage = false;
const TOKEN_AUTH_METHODS = (process.env.TOKEN_AUTH_METHODS ?? '').split(',').map((m) => m.trim()).filter(Boolean);

// oidc-provider writes its "development-only" warnings with console.warn /
// console.info; keep stdout reserved for the single ISSUER= line.
console.info = console.error;
console.log = console.error;

// ---------------------------------------------------------------------------
// Users. Account id == the login name typed into the dev login form
// (the password field is required by the HTML form but never checked).
// ---------------------------------------------------------------------------
const USER_SETS = {
  a: {
    alice: {
      email: 'alice@example.com', email_verified: true,
      name: 'Alice Example', given_name: 'Alice', family_name: 'Example',
      preferred_username: 'alice', groups: ['admins', 'readers'],
    },
    bob: {
      email: 'bob@example.com', email_verified: true,
      name: 'Bob Example', given_name: 'Bob', family_name: 'Example',
      preferred_username: 'bob', groups: ['readers'],
    },
    mallory: {
      email: 'mallory@example.net', email_verified: false,
      name: 'Mallory Example', given_name: 'Mallory', family_name: 'Example',
      preferred_username: 'mallory', groups: [],
    },
  },
  // A second directory for a possible second issuer in multi-provider tests.
  b: {
    carol: {
      email: 'carol@example.org', email_verified: true,
      name: 'Carol Example', given_name: 'Carol', family_name: 'Example',
      preferred_username: 'carol', groups: ['auditors'],
    },
  },
};

const USERS = USER_SETS[USERS_SET];
if (!USERS) {
  console.error(`unknown USERS_SET=${USERS_SET} (expected one of ${Object.keys(USER_SETS).join(', ')})`);
  process.exit(2);
}

// Unknown login names -> undefined (never reached through the login form,
// see rejectUnknownLogins below).
async function findAccount(_ctx, id) {
  const user = Object.hasOwn(USERS, id) && !DISABLED.has(id) ? USERS[id] : undefined;
  if (!user) return undefined;
  return {
    accountId: id,
    // oidc-provider filters these by granted scopes/claims and by
    // conformIdTokenClaims (ID token vs userinfo).
    async claims() {
      return { sub: id, ...user };
    },
  };
}

// ---------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------
const CLIENT_SECRET = 'tower-oidc-test-secret-0123456789abcdef0123456789';
const commonClient = {
  client_secret: CLIENT_SECRET,
  response_types: ['code'],
  grant_types: ['authorization_code', 'refresh_token'],
  // The single-provider callback, and the per-provider ones of the numbered configuration.
  redirect_uris: [
    'http://127.0.0.1:3999/auth/callback',
    'http://127.0.0.1:3999/auth/callback/staff',
    'http://127.0.0.1:3999/auth/callback/contractors',
    ...appOrigins.map((o) => `${o}/auth/callback`),
  ],
  post_logout_redirect_uris: [
    'http://127.0.0.1:3999/signed-out',
    ...appOrigins.flatMap((o) => [`${o}/public`, `${o}/signed-out`]),
  ],
  id_token_signed_response_alg: 'RS256',
  ...(JWT_USERINFO ? { userinfo_signed_response_alg: 'RS256' } : {}),
  ...(BACKCHANNEL_LOGOUT_URI ? {
    backchannel_logout_uri: BACKCHANNEL_LOGOUT_URI,
    backchannel_logout_session_required: true,
  } : {}),
};
// A secret with the characters RFC 6749 2.3.1 form-encodes in HTTP Basic credentials (`+`, `/`,
// `=`, as in a base64 secret).
const { client_secret: _secret, ...withoutSecret } = commonClient;
const ENCODED_SECRET = 'tower+oidc/test=secret==0123456789abcdef';
const clients = [
  { ...commonClient, client_id: 'tower-oidc-test', token_endpoint_auth_method: 'client_secret_basic' },
  { ...commonClient, client_id: 'tower-oidc-test-post', token_endpoint_auth_method: 'client_secret_post' },
  // Registered for basic, and checked (by the guard below) the way some widely used providers
  // check Basic credentials: the secret compared as sent, without form-decoding it. So the
  // RFC-encoded secret is refused under basic; client_secret_post works.
  {
    ...commonClient,
    client_id: 'tower-oidc-test-raw-basic',
    client_secret: ENCODED_SECRET,
    token_endpoint_auth_method: 'client_secret_basic',
  },
  // Clients that authenticate with a signed assertion, only with CLIENT_JWKS.
  ...(CLIENT_JWKS ? [
    {
      ...withoutSecret,
      client_id: 'tower-oidc-test-pkjwt',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: CLIENT_JWKS,
    },
    { ...commonClient, client_id: 'tower-oidc-test-secret-jwt', token_endpoint_auth_method: 'client_secret_jwt' },
  ] : []),
  // A service calling the API for itself (client credentials), only with API_AUDIENCE.
  ...(API_AUDIENCE ? [{
    client_id: 'tower-oidc-api-client',
    client_secret: CLIENT_SECRET,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  }] : []),
].filter((c) => TOKEN_AUTH_METHODS.length === 0
  || TOKEN_AUTH_METHODS.includes(c.token_endpoint_auth_method));
// Clients whose Basic secret is compared without form-decoding, and that may use post too.
const RAW_BASIC_CLIENTS = new Set(['tower-oidc-test-raw-basic']);

// Fresh RS256 signing key per process (JWK form, as oidc-provider expects).
const SIGNING_KID = process.env.SIGNING_KID || `test-rs256-${USERS_SET}`;
function signingJwks() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { keys: [{ ...jwk, kid: SIGNING_KID, alg: 'RS256', use: 'sig' }] };
}

function configuration() {
  return {
    clients,
    findAccount,
    jwks: signingJwks(),
    cookies: {
      // Fixed keys: cookies are signed (`*.sig` companions are set too).
      keys: ['tower-oidc-test-cookie-key-1-0123456789abcdef', 'tower-oidc-test-cookie-key-2-0123456789abcdef'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username', 'given_name', 'family_name'],
      groups: ['groups'],
    },
    // Default (true): with response_type=code, scope-derived claims go to the
    // userinfo endpoint only, the ID token carries just sub and protocol claims.
    conformIdTokenClaims: !API_AUDIENCE,
    ...(API_AUDIENCE ? {
      // A user's access tokens (JWT, or opaque when introspected) describe the user as the
      // login does, so an API sees the same identity.
      extraTokenClaims: async (_ctx, token) => {
        if (token.kind !== 'AccessToken' || !Object.hasOwn(USERS, token.accountId ?? '')) {
          return undefined;
        }
        const { email, email_verified, name, preferred_username, groups } = USERS[token.accountId];
        return { email, email_verified, name, preferred_username, groups };
      },
    } : {}),
    pkce: { required: () => true }, // S256 is the only method oidc-provider supports
    ...(TOKEN_AUTH_METHODS.length > 0 ? { clientAuthMethods: TOKEN_AUTH_METHODS } : {}),
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: RP_INITIATED_LOGOUT },
      ...(API_AUDIENCE ? {
        clientCredentials: { enabled: true },
        introspection: { enabled: true },
        revocation: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => undefined,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, resource) => {
            if (resource !== API_AUDIENCE) throw new errors.InvalidTarget();
            return {
              scope: 'reports:read',
              audience: API_AUDIENCE,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'RS256' } },
            };
          },
        },
      } : {}),
      ...(TEST_CONTROL && !API_AUDIENCE ? { revocation: { enabled: true } } : {}),
      backchannelLogout: { enabled: Boolean(BACKCHANNEL_LOGOUT_URI) },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: REQUIRE_PAR },
      jwtUserinfo: { enabled: JWT_USERINFO },
      ...(DPOP_NONCE ? {
        dPoP: {
          enabled: true,
          nonceSecret: randomBytes(32),
          requireNonce: (ctx) => DPOP_NONCE === 'on' || ctx.path === '/token',
        },
      } : {}),
      // RFC 9207: oidc-provider 9.x always adds `iss` to authorization
      // responses (there is no feature flag any more) and advertises
      // authorization_response_iss_parameter_supported=true.
    },
    enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
    // Issue a refresh token whenever the client may use the refresh_token
    // grant, even without offline_access (which oidc-provider only honours
    // together with prompt=consent). Without offline_access the refresh token
    // ends with the provider session (i.e. on RP-initiated logout).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    ttl: { AccessToken: ACCESS_TOKEN_TTL },
    ...(REFRESH_ROTATION ? { rotateRefreshToken: () => REFRESH_ROTATION === 'on' } : {}),
    // oidc-provider refuses to send requests to loopback addresses (its SSRF protection);
    // the test apps listen on 127.0.0.1, so the back-channel logout POST goes out without it.
    ...(BACKCHANNEL_LOGOUT_URI ? {
      fetch: (url, { dispatcher: _ssrfGuard, ...options }) => globalThis.fetch(url, options),
    } : {}),
  };
}

// Small pre-routing guard in front of oidc-provider, for two test needs:
//
// 1. The dev login form accepts any name and ignores the password; an unknown
//    account id would then crash the authorization endpoint (HTTP 500). For
//    an unknown login we finish the interaction with access_denied instead:
//    the browser goes back to the redirect_uri with
//    error=access_denied&error_description=unknown+user&state=...&iss=...
// 2. oidc-provider treats client_secret_basic and client_secret_post as
//    interchangeable. Enforce each client's registered method at /token so
//    that tests notice an RP using the wrong one (401 invalid_client).
//
// The form body is read here and handed on as req.body, which oidc-provider
// picks up (it logs a one-time "already parsed request body" warning).
function basicAuthClientId(header) {
  const [scheme, value] = (header ?? '').split(' ');
  if (scheme?.toLowerCase() !== 'basic' || !value) return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  try {
    return i === -1 ? undefined : decodeURIComponent(decoded.slice(0, i).replace(/\+/g, '%20'));
  } catch {
    return undefined;
  }
}

// The secret of HTTP Basic credentials exactly as sent, not form-decoded.
function basicAuthRawSecret(header) {
  const [, value] = (header ?? '').split(' ');
  const decoded = Buffer.from(value ?? '', 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return i === -1 ? undefined : decoded.slice(i + 1);
}

// Requests per path of interest, for GET /_test/hits (only with API_AUDIENCE).
const hits = { introspection: 0, refresh: 0, revocation: 0 };

function installGuard(provider) {
  provider.use(async (ctx, next) => {
    if ((API_AUDIENCE || TEST_CONTROL) && ctx.path === '/_test/hits') {
      ctx.body = hits;
      return undefined;
    }
    if (TEST_CONTROL && ctx.path.startsWith('/_test/')) {
      const { user, groups, on } = ctx.query;
      if (ctx.path === '/_test/groups' && Object.hasOwn(USERS, user ?? '')) {
        USERS[user].groups = groups ? groups.split(',') : [];
      } else if (ctx.path === '/_test/disable' && Object.hasOwn(USERS, user ?? '')) {
        DISABLED.add(user);
      } else if (ctx.path === '/_test/revoke-grant' && ctx.query.token) {
        // The grant behind this access token is gone, as when the user revokes the app's
        // access at the provider: its refresh tokens get invalid_grant.
        const token = await provider.AccessToken.find(String(ctx.query.token));
        const grant = token && await provider.Grant.find(token.grantId);
        if (!grant) {
          ctx.status = 404;
          return undefined;
        }
        await grant.destroy();
      } else if (ctx.path === '/_test/outage') {
        outage = on === '1';
      } else {
        ctx.status = 404;
        return undefined;
      }
      ctx.body = { ok: true };
      return undefined;
    }
    if (outage && ctx.path === '/token') {
      ctx.req.socket.destroy();
      ctx.respond = false;
      return undefined;
    }
    if (ctx.path === '/token/introspection') hits.introspection += 1;
    if (ctx.path === '/token/revocation') hits.revocation += 1;
    const isInteraction = /^\/interaction\/[^/]+$/.test(ctx.path);
    const isToken = ctx.path === '/token';
    if (ctx.method !== 'POST' || !(isInteraction || isToken)
      || !ctx.is('application/x-www-form-urlencoded')) {
      return next();
    }
    const chunks = [];
    for await (const chunk of ctx.req) chunks.push(chunk);
    const raw = Buffer.concat(chunks).toString('utf8');
    ctx.req.body = raw; // consumed here; oidc-provider falls back to req.body
    const form = new URLSearchParams(raw);
    if (isToken && form.get('grant_type') === 'refresh_token') hits.refresh += 1;

    if (isInteraction && form.get('prompt') === 'login'
      && !Object.hasOwn(USERS, form.get('login') ?? '')) {
      await provider.interactionFinished(ctx.req, ctx.res, {
        error: 'access_denied',
        error_description: 'unknown user',
      }, { mergeWithLastSubmission: false });
      ctx.respond = false; // interactionFinished already wrote the 303
      return undefined;
    }

    if (isToken) {
      const basicId = basicAuthClientId(ctx.get('authorization'));
      const used = basicId !== undefined ? 'client_secret_basic'
        : form.has('client_secret') ? 'client_secret_post' : undefined;
      const client = clients.find((c) => c.client_id === (basicId ?? form.get('client_id')));
      if (client && RAW_BASIC_CLIENTS.has(client.client_id)) {
        if (used === 'client_secret_basic'
          && basicAuthRawSecret(ctx.get('authorization')) !== client.client_secret) {
          ctx.status = 401;
          ctx.set('cache-control', 'no-store');
          ctx.body = { error: 'invalid_client', error_description: 'client authentication failed' };
          return undefined;
        }
        // Its post form is passed on as it is; basic, once checked raw, as oidc-provider checks it.
        return next();
      }
      if (used && client && client.token_endpoint_auth_method !== used) {
        ctx.status = 401;
        ctx.set('cache-control', 'no-store');
        ctx.body = {
          error: 'invalid_client',
          error_description: `${client.client_id} must authenticate with ${client.token_endpoint_auth_method}, not ${used}`,
        };
        return undefined;
      }
    }
    return next();
  });
}

// Listen first (the issuer must contain the real port), then build the provider.
let handler = (_req, res) => { res.statusCode = 503; res.end(); };
const server = createServer((req, res) => handler(req, res));

server.listen(PORT, HOST, () => {
  const { port } = server.address();
  const issuer = `http://${HOST}:${port}`;
  const provider = new Provider(issuer, configuration());
  installGuard(provider);
  provider.on('server_error', (_ctx, err) => console.error('server_error', err));
  provider.on('backchannel.error', (_ctx, err) => console.error('backchannel.error', err));
  handler = provider.callback();
  process.stdout.write(`ISSUER=${issuer}\n`);
});

function shutdown(signal) {
  console.error(`received ${signal}, shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
