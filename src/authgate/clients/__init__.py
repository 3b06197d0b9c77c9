"""OAuth clients: registration metadata, secrets, and how a client proves who it is.

Its own domain package so that `identity` (sign-in through a client) and `tokens` (tokens
issued to a client) both depend on it, and neither on the other for it.
"""
