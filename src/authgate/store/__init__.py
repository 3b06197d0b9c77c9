"""Storage: the only package that speaks SQL."""

from authgate.store.database import Store, Transaction

__all__ = ["Store", "Transaction"]
