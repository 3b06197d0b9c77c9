"""Token signing keys and the JWT codec built on them."""
