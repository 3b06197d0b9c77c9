"""Lifecycle hook receivers for authgate (docs/hooks.md): a wrapper that runs an unchanged
Cognito Lambda trigger, and a lazy migration from a legacy PBKDF2 user table.

They speak to authgate only over HTTP (Standard Webhooks), so neither imports authgate.
"""
