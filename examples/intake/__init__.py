"""intake: the container-image upload service of the quickstart, behind the gate.

A client signs up with authgate, then uploads a `docker save` tarball (or an OCI layout) and
gets back an id; the service stores it by its SHA-256 while it streams in, then vets it in the
background. It believes only the X-Authgate-Identity JWT the gate signs for it
(examples/identity.py) and imports nothing from authgate.
"""
