// The same-run peer for bench/oauth.py: panva's oidc-provider with one confidential client
// allowed the client_credentials grant, JWT access tokens through a resource indicator, and
// introspection. It listens on 127.0.0.1 only and keeps everything in memory.
//
// Configured by the environment, so the bench can start it once per key type:
//   PEER_PORT           port on 127.0.0.1
//   PEER_ALG            RS256 (RSA 2048) or ES256 (P-256): the access-token signing key
//   PEER_CLIENT_ID      the client's id
//   PEER_CLIENT_SECRET  the client's secret (client_secret_basic)
//   PEER_SCOPE          the resource scope the client may ask for
//   PEER_JWT_RESOURCE   resource indicator whose tokens are JWTs (the default resource)
//   PEER_OPAQUE_RESOURCE resource indicator whose tokens are opaque: oidc-provider refuses
//                       to introspect structured (JWT) tokens, so introspection uses these
// It prints one line, "ready <issuer>", once it accepts connections.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} must be set`);
    process.exit(2);
  }
  return value;
}

const port = Number(required('PEER_PORT'));
const alg = required('PEER_ALG');
const clientId = required('PEER_CLIENT_ID');
const clientSecret = required('PEER_CLIENT_SECRET');
const scope = required('PEER_SCOPE');
const jwtResource = required('PEER_JWT_RESOURCE');
const opaqueResource = required('PEER_OPAQUE_RESOURCE');

// The same key types and sizes as authgate's (tokens/keys.py): RSA 2048 and P-256.
function signingJwk() {
  let pair;
  if (alg === 'RS256') {
    pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  } else if (alg === 'ES256') {
    pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  } else {
    console.error(`PEER_ALG must be RS256 or ES256, not ${alg}`);
    process.exit(2);
  }
  return { ...pair.privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `bench-${alg}` };
}

const ttl = 3600;
const resourceServers = new Map([
  [jwtResource, { accessTokenFormat: 'jwt', jwt: { sign: { alg } } }],
  [opaqueResource, { accessTokenFormat: 'opaque' }],
]);

const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope,
    },
  ],
  clientDefaults: { id_token_signed_response_alg: alg },
  scopes: ['openid', scope],
  jwks: { keys: [signingJwk()] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => jwtResource,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, indicator) => {
        const server = resourceServers.get(indicator);
        if (!server) throw new errors.InvalidTarget();
        return { scope, audience: indicator, accessTokenTTL: ttl, ...server };
      },
    },
  },
});

// No per-request logging: the bench measures the provider, not the console.
provider.on('server_error', (_ctx, error) => console.error('server_error', error));

const server = createServer(provider.callback());
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
