"""`python -m examples.intake [--config FILE] [--listen HOST:PORT] [--issuer URL] ...`.

Run from the repository root (no install needed). The file (YAML, see
examples/intake/README.md) gives every setting; a flag overrides the file's value.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import uvicorn

from examples.identity import IdentityVerifier
from examples.intake.app import create_app
from examples.intake.config import ConfigError, load_settings


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m examples.intake",
        description="The container-image intake service, behind authgate's gate.",
    )
    parser.add_argument("--config", type=Path, help="YAML settings (all keys optional)")
    parser.add_argument("--listen", help="HOST:PORT (default 127.0.0.1:9002)")
    parser.add_argument("--issuer", help="authgate's issuer (default http://127.0.0.1:8080)")
    parser.add_argument("--audience", help="this upstream's name in the gate (default intake)")
    parser.add_argument("--jwks-url", dest="jwks_url", help="default: ISSUER/.well-known/jwks.json")
    parser.add_argument("--database", help="SQLite file (default ./.authgate/intake.db)")
    parser.add_argument("--storage-path", help="filesystem store (default ./.authgate/images)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    overrides = {
        key: getattr(args, key) for key in ("listen", "issuer", "audience", "jwks_url", "database")
    }
    if args.storage_path:
        overrides["storage"] = {"kind": "filesystem", "path": args.storage_path}
    try:
        settings = load_settings(args.config, overrides)
    except ConfigError as exc:
        raise SystemExit(f"intake: {exc}") from None
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    verifier = IdentityVerifier(settings.issuer, settings.audience, settings.jwks_url)
    host, _, port = settings.listen.rpartition(":")
    storage = settings.storage
    where = storage.path if storage.kind == "filesystem" else storage.bucket
    print(
        f"intake on http://{settings.listen}, storing in {storage.kind} ({where}),"
        f" verifying identities for {verifier.audience!r} from {verifier.issuer}",
        flush=True,
    )
    try:
        app = create_app(settings, verifier)
    except ConfigError as exc:
        raise SystemExit(f"intake: {exc}") from None
    uvicorn.run(app, host=host.strip("[]"), port=int(port), log_level="warning")


if __name__ == "__main__":
    main()
