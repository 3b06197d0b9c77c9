"""Client authentication at the token, introspection and revocation endpoints (RFC 6749
2.3, RFC 7523 2.2, OIDC Core 9).

The adapter says how the client presented itself; this decides whether that is how the
client is registered to authenticate, and whether the proof holds. A public client (`none`)
only names itself; a confidential one must use exactly its registered method.
"""

from __future__ import annotations

from dataclasses import dataclass

from authgate.clients.assertions import AssertionVerifier, read_assertion
from authgate.clients.metadata import AuthMethod
from authgate.clients.registry import Client, ClientRegistry
from authgate.errors import InvalidClient, NotFound


@dataclass(frozen=True)
class ClientCredentials:
    """What a request presented: the method, and the client id, secret or assertion."""

    method: AuthMethod
    client_id: str | None
    secret: str | None = None
    assertion: str | None = None


def _registered_for(client: Client, method: AuthMethod) -> Client:
    registered = client.metadata.token_endpoint_auth_method
    if registered != method:
        raise InvalidClient(f"This client is registered to authenticate by {registered}.")
    return client


class ClientAuthenticator:
    def __init__(self, registry: ClientRegistry, assertions: AssertionVerifier) -> None:
        self._registry = registry
        self._assertions = assertions

    async def authenticate(self, credentials: ClientCredentials) -> Client:
        """The client, if it proved itself the way it is registered to; else InvalidClient."""
        if credentials.method == "private_key_jwt":
            return await self._by_assertion(credentials)
        if credentials.client_id is None:
            raise InvalidClient("Client authentication is required.")
        if credentials.method == "none" or credentials.secret is None:
            try:
                client = await self._registry.get(credentials.client_id)
            except NotFound:
                raise InvalidClient() from None
            if client.metadata.confidential:
                raise InvalidClient("This client must authenticate.")
            return client
        client = await self._registry.authenticate(credentials.client_id, credentials.secret)
        return _registered_for(client, credentials.method)

    async def _by_assertion(self, credentials: ClientCredentials) -> Client:
        assertion = read_assertion(credentials.assertion)
        if credentials.client_id not in (None, assertion.client_id):
            raise InvalidClient("client_id differs from the client assertion's sub.")
        client = await self._registry.lookup(assertion.client_id)
        if client is None:
            raise InvalidClient()
        await self._assertions.verify(_registered_for(client, "private_key_jwt"), assertion)
        return client
