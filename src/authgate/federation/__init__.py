"""Sign-in with external OpenID Connect providers (issue 15): discovery, the code flow with
PKCE, state and nonce, ID token verification, and the rules that create or link accounts."""
