"""A Cognito Lambda trigger written as for AWS (no authgate in sight), for the shim test.

One function serves every trigger by `triggerSource`, as many real deployments do; each
event is appended to the JSON-lines file named by HOOKS_LAMBDA_LOG so the test can see
what the function was given.
"""

from __future__ import annotations

import json
import os
from typing import Any

LEGACY_PASSWORD = "legacy horse 4 battery"


def _log(event: dict[str, Any]) -> None:
    with open(os.environ["HOOKS_LAMBDA_LOG"], "a", encoding="utf-8") as out:
        out.write(json.dumps(event) + "\n")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log(event)
    source = event["triggerSource"]
    request, response = event["request"], event["response"]
    if source.startswith("PreSignUp_"):
        if request["userAttributes"]["email"].endswith("@blocked.example"):
            raise Exception("Sign-ups from blocked.example are closed.")
        if request.get("validationData", {}).get("invite") == "yes":
            response["autoConfirmUser"] = True
            response["autoVerifyEmail"] = True
    elif source.startswith("TokenGeneration_"):
        response["claimsOverrideDetails"] = {
            "claimsToAddOrOverride": {"tenant": "acme", "iss": "https://evil.example"},
            "claimsToSuppress": ["email"],
            "groupOverrideDetails": {"groupsToOverride": ["lambda-group"]},
        }
    elif source.startswith("UserMigration_"):
        if not event["userName"].endswith("@legacy.example"):
            raise Exception("User not found")
        if source == "UserMigration_Authentication" and request["password"] != LEGACY_PASSWORD:
            raise Exception("Bad password")
        response["userAttributes"] = {"email": event["userName"], "email_verified": "true"}
        response["finalUserStatus"] = "CONFIRMED"
        response["messageAction"] = "SUPPRESS"
    elif source.startswith("CustomMessage_"):
        response["emailSubject"] = "Welcome from the Lambda"
        response["emailMessage"] = "Your code, from the Lambda:\n" + request["codeParameter"] + "\n"
    return event
