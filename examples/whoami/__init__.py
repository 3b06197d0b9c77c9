"""whoami: the demo upstream of the quickstart.

It stands for a private service behind the gate. It believes only what it can verify: the
X-Authgate-Identity JWT, checked against authgate's published keys, so a request that reached
it around the gate (or with hand-written X-Authgate-* headers) is refused.
"""
