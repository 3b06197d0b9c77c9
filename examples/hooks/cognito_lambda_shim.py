"""Run an existing Cognito Lambda trigger, unchanged, as an authgate hook (`hooks.format:
cognito`).

    HOOK_SECRET=whsec_... python -m examples.hooks.cognito_lambda_shim \\
        --listen 127.0.0.1:9100 --handler my_triggers.handler

authgate POSTs Cognito's trigger event, signed per Standard Webhooks; the shim checks the
signature, calls `handler(event, context)` as Lambda would, and answers the event the
function returned. A function that raises is answered HTTP 400 with Lambda's error shape,
`{"errorType": ..., "errorMessage": ...}`: authgate reads that as Cognito does a failed
trigger (PreSignUp: the sign-up is refused with the message; UserMigration: the user is
not found; the others: the hook failed, handled by its `on_error`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from examples.hooks.receiver import Answer, secret_from_environment, serve

log = logging.getLogger("cognito_lambda_shim")

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaContext:
    """The parts of Lambda's context object triggers commonly read."""

    aws_request_id: str
    function_name: str
    timeout_ms: int = 5000
    started: float = field(default_factory=time.monotonic)
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.timeout_ms - int((time.monotonic() - self.started) * 1000))


def load_handler(path: str) -> Handler:
    """`package.module.function` (or `package.module:function`) -> the function."""
    module_name, _, name = path.replace(":", ".").rpartition(".")
    if not module_name:
        raise SystemExit(f"--handler {path}: expected module.function")
    found: Handler = getattr(importlib.import_module(module_name), name)
    return found


def invoke(handler: Handler, name: str) -> Callable[[Any, dict[str, str]], Answer]:
    def handle(event: Any, headers: dict[str, str]) -> Answer:
        if not isinstance(event, dict):
            return 400, {"errorType": "InvalidEvent", "errorMessage": "not a trigger event"}
        context = LambdaContext(headers.get("webhook-id", ""), name)
        try:
            result = handler(event, context)
        except Exception as exc:
            log.info("%s raised %s", event.get("triggerSource"), type(exc).__name__)
            return 400, {"errorType": type(exc).__name__, "errorMessage": str(exc)}
        return 200, event if result is None else result

    return handle


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m examples.hooks.cognito_lambda_shim", description=__doc__
    )
    parser.add_argument("--listen", default="127.0.0.1:9100")
    parser.add_argument("--handler", required=True, help="module.function of the trigger")
    parser.add_argument("--secret-env", default="HOOK_SECRET")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    handler = load_handler(args.handler)
    server = serve(
        args.listen, secret_from_environment(args.secret_env), invoke(handler, args.handler)
    )
    log.info("running %s on %s", args.handler, args.listen)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
