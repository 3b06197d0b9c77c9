"""One Cognito call as its handler sees it: the operation, its members and who asked."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import Headers

from authgate.audit import Caller
from authgate.bootstrap import Services
from authgate.cognito.params import Params
from authgate.config import CognitoSettings


@dataclass(frozen=True)
class Call:
    """What a handler gets. `method`, `path`, `query`, `headers` and `body` are the request
    exactly as received, for the SigV4 verifier (the signature covers the raw bytes)."""

    operation: str
    params: Params
    services: Services
    caller: Caller
    request_id: str
    method: str
    path: str
    query: str
    headers: Headers
    body: bytes

    @property
    def settings(self) -> CognitoSettings:
        return self.services.settings.cognito
