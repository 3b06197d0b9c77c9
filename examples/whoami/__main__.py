"""`python -m examples.whoami --listen 127.0.0.1:9001 --issuer URL --audience NAME`.

Run from the repository root (no install needed). Each flag also reads an environment
variable: WHOAMI_LISTEN, WHOAMI_ISSUER, WHOAMI_AUDIENCE, WHOAMI_JWKS_URL.
"""

from __future__ import annotations

import argparse
import os

import uvicorn

from examples.identity import IdentityVerifier
from examples.whoami.app import create_app


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m examples.whoami",
        description="A demo upstream that verifies X-Authgate-Identity and says who called.",
    )
    parser.add_argument("--listen", default=env("WHOAMI_LISTEN", "127.0.0.1:9001"))
    parser.add_argument("--issuer", default=env("WHOAMI_ISSUER", "http://127.0.0.1:8080"))
    parser.add_argument(
        "--audience",
        default=env("WHOAMI_AUDIENCE", "whoami"),
        help="this upstream's name in authgate's gateway.upstreams (the token's aud)",
    )
    parser.add_argument(
        "--jwks-url",
        default=env("WHOAMI_JWKS_URL"),
        help="default: ISSUER/.well-known/jwks.json",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    host, _, port = str(args.listen).rpartition(":")
    verifier = IdentityVerifier(args.issuer, args.audience, args.jwks_url)
    print(
        f"whoami on http://{args.listen}, verifying identities for {verifier.audience!r}"
        f" from {verifier.issuer} ({verifier.jwks_url})",
        flush=True,
    )
    uvicorn.run(create_app(verifier), host=host.strip("[]"), port=int(port), log_level="warning")


if __name__ == "__main__":
    main()
