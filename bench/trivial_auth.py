"""The cheapest possible Python HTTP endpoint: a raw ASGI app on uvicorn (httptools, uvloop).

bench/gateway.py runs it twice: as the trivial decider behind nginx `auth_request` (the
baseline that authgate's forward-auth is compared with: nginx calling Python at all has a
price, and only authgate's share of it is authgate's to answer for), and as the upstream
when nginx is not installed. Every request is answered 200 with a short fixed body, except
a path ending in `/echo`, which answers with the identity headers it received, so the
benchmark can check that a gate passed them on before it times anything.

    python bench/trivial_auth.py --port 9000
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

BODY = b"hello from the upstream\n"
ECHO_SUFFIX = "/echo"
IDENTITY_PREFIX = b"x-authgate-"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:  # drain any request body, so keep-alive stays in step
        message = await receive()
        more = message.get("more_body", False)
    body = BODY
    if scope["path"].endswith(ECHO_SUFFIX):
        received = [
            name + b"=" + value
            for name, value in scope["headers"]
            if name.lower().startswith(IDENTITY_PREFIX) or name.lower() == b"authorization"
        ]
        body = b"\n".join(received) + b"\n"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        http="httptools",
        loop="uvloop",
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
    )


if __name__ == "__main__":
    main()
