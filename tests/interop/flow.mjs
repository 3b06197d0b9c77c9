// panva's openid-client (v6) against a running authgate: the whole OpenID Connect code flow.
//
// discovery -> authorization URL with PKCE (S256), state and nonce -> the hosted sign-in (and
// consent) pages driven with fetch, no browser, a cookie jar kept by hand -> code exchange with
// ID token validation (signature against the JWKS, iss, aud, azp, nonce, exp; at_hash checked
// here, since the library leaves it to the caller in the code flow) -> userinfo -> refresh ->
// userinfo with the refreshed token -> reuse of the spent refresh token is refused ->
// RP-initiated logout back to the client with state -> prompt=none is then login_required.
//
// Input: the INTEROP_CONFIG environment variable, JSON:
//   {issuer, client_id, client_secret?, token_endpoint_auth_method, redirect_uri,
//    post_logout_redirect_uri, scope, email, password}
// Output: one JSON summary on stdout; exit 0 only when every step passed.

import { createHash } from 'node:crypto'
import * as client from 'openid-client'

const MAX_STEPS = 12
const GRANT_WORDS = /\b(allow|approve|accept|authori[sz]e|grant|consent|yes)\b/i
const DENY_WORDS = /\b(deny|decline|reject|cancel|no|not|don.t)\b/i
const IDENTIFIER_NAMES = new Set(['email', 'username', 'login', 'identifier', 'user', 'name'])

let step = 'start'
const summary = { ok: false, steps: [] }

function passed(name, detail = {}) {
  summary.steps.push(name)
  Object.assign(summary, detail)
}

function fail(message) {
  throw new Error(message)
}

// -- a cookie jar for one host, kept by hand --------------------------------------------------

class CookieJar {
  cookies = new Map()

  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((part) => part.trim())
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq)
      const value = pair.slice(eq + 1)
      const attrs = Object.fromEntries(
        attributes.map((a) => {
          const i = a.indexOf('=')
          return i < 0 ? [a.toLowerCase(), true] : [a.slice(0, i).toLowerCase(), a.slice(i + 1)]
        }),
      )
      const expired =
        ('max-age' in attrs && Number(attrs['max-age']) <= 0) ||
        ('expires' in attrs && Date.parse(attrs.expires) < Date.now())
      if (expired) this.cookies.delete(name)
      else this.cookies.set(name, { value, path: attrs.path || '/', attrs })
    }
  }

  header(url) {
    const path = new URL(url).pathname
    return [...this.cookies]
      .filter(([, c]) => path.startsWith(c.path))
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ')
  }

  attributes() {
    return Object.fromEntries([...this.cookies].map(([name, c]) => [name, c.attrs]))
  }
}

// -- reading forms out of HTML -------------------------------------------------------------------

function decodeEntities(text) {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec) => String.fromCodePoint(Number(dec)))
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
}

function attributesOf(source) {
  const attrs = {}
  const pattern = /([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g
  for (const match of source.matchAll(pattern)) {
    attrs[match[1].toLowerCase()] = decodeEntities(match[2] ?? match[3] ?? match[4] ?? '')
  }
  return attrs
}

function formsOf(html) {
  const forms = []
  for (const [, head, body] of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = attributesOf(head)
    const inputs = []
    const buttons = []
    for (const [, source] of body.matchAll(/<input\b([^>]*)>/gi)) {
      const input = attributesOf(source)
      const type = (input.type || 'text').toLowerCase()
      if (type === 'submit' || type === 'image') buttons.push({ name: input.name, value: input.value || '', text: '' })
      else inputs.push({ ...input, type })
    }
    for (const [, source, text] of body.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)) {
      const button = attributesOf(source)
      if ((button.type || 'submit').toLowerCase() !== 'submit') continue
      buttons.push({ name: button.name, value: button.value || '', text: text.replace(/<[^>]*>/g, '').trim() })
    }
    forms.push({ action: attrs.action || '', method: (attrs.method || 'get').toLowerCase(), inputs, buttons })
  }
  return forms
}

function defaultFields(form) {
  const fields = new URLSearchParams()
  for (const input of form.inputs) {
    if (!input.name || ['button', 'reset', 'file'].includes(input.type)) continue
    if (['checkbox', 'radio'].includes(input.type) && !('checked' in input)) continue
    fields.set(input.name, input.value ?? (input.type === 'checkbox' ? 'on' : ''))
  }
  return fields
}

const label = (b) => `${b.name || ''} ${b.value} ${b.text}`
const hasPassword = (form) => form.inputs.some((i) => i.type === 'password')

function submission(html, pageUrl, email, password) {
  const forms = formsOf(html).filter((f) => f.method === 'post')
  const login = forms.find(hasPassword)
  if (login) {
    const fields = defaultFields(login)
    for (const input of login.inputs) {
      if (!input.name) continue
      if (input.type === 'password') fields.set(input.name, password)
      else if (input.type === 'email' || IDENTIFIER_NAMES.has(input.name.toLowerCase())) fields.set(input.name, email)
    }
    if (login.buttons[0]?.name) fields.set(login.buttons[0].name, login.buttons[0].value)
    return { action: new URL(login.action || pageUrl, pageUrl), fields, consent: false }
  }
  for (const form of forms) {
    const button = form.buttons.find((b) => GRANT_WORDS.test(label(b)) && !DENY_WORDS.test(label(b)))
    if (!button) continue
    const fields = defaultFields(form)
    if (button.name) fields.set(button.name, button.value)
    return { action: new URL(form.action || pageUrl, pageUrl), fields, consent: true }
  }
  fail(`no sign-in or consent form at ${pageUrl}: ${html.slice(0, 600)}`)
}

// A person at the hosted pages: follow the app's redirects, fill its forms, and stop at the
// first redirect that leaves for `stopAt` (the client's registered address, never contacted).
async function browse(jar, startUrl, stopAt, email, password) {
  const pages = []
  let consented = false
  let request = { url: startUrl.href, init: { method: 'GET' } }
  for (let i = 0; i < MAX_STEPS; i++) {
    const headers = new Headers(request.init.headers)
    const cookie = jar.header(request.url)
    if (cookie) headers.set('cookie', cookie)
    const response = await fetch(request.url, { ...request.init, headers, redirect: 'manual' })
    jar.store(response)
    if (response.status >= 300 && response.status < 400) {
      const target = new URL(response.headers.get('location'), request.url)
      if (`${target.origin}${target.pathname}` === stopAt) return { callback: target, pages, consented }
      request = { url: target.href, init: { method: 'GET' } }
      continue
    }
    const html = await response.text()
    if (response.status !== 200 || !(response.headers.get('content-type') || '').includes('html')) {
      fail(`${request.init.method} ${request.url} -> ${response.status}: ${html.slice(0, 600)}`)
    }
    pages.push(request.url)
    const { action, fields, consent } = submission(html, request.url, email, password)
    consented ||= consent
    request = {
      url: action.href,
      init: {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: fields.toString(),
      },
    }
  }
  fail(`no redirect to ${stopAt} after ${MAX_STEPS} steps`)
}

async function authorizationRequest(config, cfg, extra = {}) {
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: cfg.redirect_uri,
    scope: cfg.scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  })
  return { url, verifier, state, nonce }
}

// OIDC Core 3.1.3.6: base64url of the left half of the hash the ID token's alg uses.
function atHash(accessToken, alg) {
  const hash = { '256': 'sha256', '384': 'sha384', '512': 'sha512' }[alg.slice(-3)] ?? 'sha512' // EdDSA
  const digest = createHash(hash).update(accessToken).digest()
  return digest.subarray(0, digest.length / 2).toString('base64url')
}

function headerOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString())
}

async function expectInvalidGrant(promise) {
  try {
    await promise
  } catch (error) {
    if (error instanceof client.ResponseBodyError && error.error === 'invalid_grant') return
    throw error
  }
  fail('expected invalid_grant, the server accepted')
}

function clientAuthentication(cfg) {
  const methods = {
    client_secret_basic: () => client.ClientSecretBasic(cfg.client_secret),
    client_secret_post: () => client.ClientSecretPost(cfg.client_secret),
    none: () => client.None(),
  }
  const method = methods[cfg.token_endpoint_auth_method] ?? fail(`unknown ${cfg.token_endpoint_auth_method}`)
  return method()
}

async function main() {
  const cfg = JSON.parse(process.env.INTEROP_CONFIG || fail('INTEROP_CONFIG is not set'))
  const confidential = Boolean(cfg.client_secret)

  step = 'discovery'
  // openid-client v6 refuses http:// by default; allowInsecureRequests is for this loopback
  // test server only. enableNonRepudiationChecks makes it verify ID token signatures against
  // the JWKS (it otherwise relies on TLS for token endpoint answers).
  const config = await client.discovery(
    new URL(cfg.issuer),
    cfg.client_id,
    confidential ? cfg.client_secret : { token_endpoint_auth_method: 'none' },
    clientAuthentication(cfg),
    { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] },
  )
  const server = config.serverMetadata()
  if (server.issuer !== cfg.issuer) fail(`issuer ${server.issuer} != ${cfg.issuer}`)
  passed('discovery', { issuer: server.issuer })

  step = 'authorize'
  const jar = new CookieJar()
  const asked = await authorizationRequest(config, cfg)
  const journey = await browse(jar, asked.url, cfg.redirect_uri, cfg.email, cfg.password)
  passed('authorize', {
    pages: journey.pages.length,
    consented: journey.consented,
    cookies: jar.attributes(),
    authorization_response_iss: journey.callback.searchParams.get('iss'),
  })

  step = 'token'
  const tokens = await client.authorizationCodeGrant(config, journey.callback, {
    pkceCodeVerifier: asked.verifier,
    expectedState: asked.state,
    expectedNonce: asked.nonce,
    idTokenExpected: true,
  })
  const claims = tokens.claims()
  const alg = headerOf(tokens.id_token).alg
  if (!claims.at_hash) fail('the ID token has no at_hash')
  if (claims.at_hash !== atHash(tokens.access_token, alg)) fail('at_hash does not match the access token')
  if (!tokens.refresh_token) fail('no refresh token (offline_access was asked for)')
  passed('token', {
    token_type: tokens.token_type,
    expires_in: tokens.expiresIn(),
    scope: tokens.scope,
    id_token_alg: alg,
    id_token_claims: claims,
  })

  step = 'userinfo'
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
  passed('userinfo', { userinfo })

  if (confidential) {
    step = 'introspection'
    const introspection = await client.tokenIntrospection(config, tokens.access_token)
    if (introspection.active !== true) fail(`introspection says ${JSON.stringify(introspection)}`)
    passed('introspection', { introspection })
  }

  step = 'refresh'
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
  if (refreshed.refresh_token === tokens.refresh_token) fail('the refresh token did not rotate')
  const refreshedClaims = refreshed.id_token ? refreshed.claims() : undefined
  passed('refresh', { refreshed_id_token: Boolean(refreshed.id_token), refreshed_claims: refreshedClaims })

  step = 'userinfo after refresh'
  const again = await client.fetchUserInfo(config, refreshed.access_token, claims.sub)
  passed('userinfo after refresh', { userinfo_after_refresh: again })

  step = 'refresh token reuse'
  await expectInvalidGrant(client.refreshTokenGrant(config, tokens.refresh_token))
  await expectInvalidGrant(client.refreshTokenGrant(config, refreshed.refresh_token))
  passed('refresh token reuse')

  step = 'logout'
  const logoutState = client.randomState()
  const endSession = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: cfg.post_logout_redirect_uri,
    state: logoutState,
  })
  const left = await browse(jar, endSession, cfg.post_logout_redirect_uri, cfg.email, cfg.password)
  if (left.callback.searchParams.get('state') !== logoutState) fail(`logout lost state: ${left.callback}`)
  if (left.pages.length) fail(`logout with a valid id_token_hint showed ${left.pages.length} page(s)`)
  passed('logout')

  step = 'prompt=none after logout'
  const silent = await authorizationRequest(config, cfg, { prompt: 'none' })
  const refused = await browse(jar, silent.url, cfg.redirect_uri, cfg.email, cfg.password)
  try {
    await client.authorizationCodeGrant(config, refused.callback, {
      pkceCodeVerifier: silent.verifier,
      expectedState: silent.state,
      expectedNonce: silent.nonce,
    })
    fail('prompt=none after logout yielded a code')
  } catch (error) {
    if (!(error instanceof client.AuthorizationResponseError && error.error === 'login_required')) throw error
  }
  passed('prompt=none after logout', { prompt_none_error: 'login_required' })

  summary.ok = true
}

function describeCause(cause) {
  if (cause instanceof URLSearchParams) return Object.fromEntries(cause)
  if (cause instanceof Error) return { name: cause.name, message: cause.message }
  return cause
}

try {
  await main()
  process.stdout.write(`${JSON.stringify(summary)}\n`)
} catch (error) {
  Object.assign(summary, {
    ok: false,
    failed_step: step,
    error: {
      name: error?.name,
      message: error?.message,
      code: error?.code,
      oauth_error: error?.error,
      error_description: error?.error_description,
      status: error?.status,
      cause: describeCause(error?.cause),
    },
  })
  process.stdout.write(`${JSON.stringify(summary)}\n`)
  process.exitCode = 1
}
