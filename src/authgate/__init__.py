"""authgate: a self-hosted identity and access layer for containerized APIs."""

__version__ = "0.1.0"
