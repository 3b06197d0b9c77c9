"""What a Cognito sign-in answers once the password is proven (typed or by SRP): tokens,
or the challenge still due (NEW_PASSWORD_REQUIRED for an invited user).

Shared by InitiateAuth's flows, RespondToAuthChallenge and their Admin* twins, so every
path to tokens takes the same steps. The rules themselves are the domain's (`NewPasswordStep`,
`LoginFlow.complete_password`); here they are only put in Cognito's shapes.
"""

from __future__ import annotations

import json
from typing import Any

from authgate.clients.registry import Client
from authgate.cognito.call import Call
from authgate.cognito.errors import invalid_parameter
from authgate.cognito.params import Shape
from authgate.cognito.shapes import authentication_result, user_attributes
from authgate.identity.challenges import Challenge, Completed
from authgate.identity.new_password import NewPasswordStep
from authgate.identity.signin import CheckedPassword
from authgate.store.records import UserRecord

NEW_PASSWORD_REQUIRED = "NEW_PASSWORD_REQUIRED"
SOFTWARE_TOKEN_MFA = "SOFTWARE_TOKEN_MFA"
MFA_SETUP = "MFA_SETUP"
ATTRIBUTE_PREFIX = "userAttributes."


def parameter(parameters: dict[str, str], name: str, shape: Shape) -> str:
    """A required member of AuthParameters / ChallengeResponses, in Cognito's words."""
    value = parameters.get(name)
    if value is None:
        raise invalid_parameter(f"Missing required parameter {name}")
    if shape.problem(value) is not None:
        raise invalid_parameter(f"Invalid parameter {name}")
    return value


def optional_parameter(parameters: dict[str, str], name: str, shape: Shape) -> str | None:
    return parameter(parameters, name, shape) if name in parameters else None


def new_password_step(call: Call) -> NewPasswordStep:
    services = call.services
    return NewPasswordStep(services.store, services.users, services.srp.sessions)


def tokens_answer(result: dict[str, Any]) -> dict[str, Any]:
    return {"AuthenticationResult": result, "ChallengeParameters": {}}


async def new_password_challenge(call: Call, client: Client, user: UserRecord) -> dict[str, Any]:
    """NEW_PASSWORD_REQUIRED: the user's attributes, and the required ones still missing."""
    opened = await new_password_step(call).open(user, client.client_id)
    shown = {a["Name"]: a["Value"] for a in user_attributes(user) if a["Name"] != "sub"}
    required = [f"{ATTRIBUTE_PREFIX}{name}" for name in opened.missing]
    return {
        "ChallengeName": NEW_PASSWORD_REQUIRED,
        "Session": opened.session,
        "ChallengeParameters": {
            "USER_ID_FOR_SRP": user.username,
            "requiredAttributes": json.dumps(required),
            "userAttributes": json.dumps(shown),
        },
    }


def mfa_challenge(user: UserRecord, pending: Challenge) -> dict[str, Any]:
    """SOFTWARE_TOKEN_MFA (a TOTP code is due) or MFA_SETUP (the pool requires a factor
    the user has not enrolled: AssociateSoftwareToken and VerifySoftwareToken with this
    Session, then RespondToAuthChallenge MFA_SETUP with the Session they return)."""
    if pending.kind == "totp":
        return {
            "ChallengeName": SOFTWARE_TOKEN_MFA,
            "Session": pending.session,
            "ChallengeParameters": {"USER_ID_FOR_SRP": user.username},
        }
    return {
        "ChallengeName": MFA_SETUP,
        "Session": pending.session,
        "ChallengeParameters": {
            "MFAS_CAN_SETUP": json.dumps([SOFTWARE_TOKEN_MFA]),
            "USER_ID_FOR_SRP": user.username,
        },
    }


async def completed(call: Call, done: Completed) -> dict[str, Any]:
    """The AuthenticationResult of a completed sign-in."""
    tokens = await call.services.login_flow.issue_tokens(done, call.caller)
    return tokens_answer(authentication_result(tokens))


async def after_password(call: Call, client: Client, checked: CheckedPassword) -> dict[str, Any]:
    """Tokens for a proven password, or the challenge still due: a new password for an
    invited user, then a second factor where the user has one or the pool requires one."""
    user = checked.user
    if user.status == "force_change_password" and checked.replacement is None:
        return await new_password_challenge(call, client, user)
    outcome = await call.services.login_flow.complete_password(checked, client, call.caller)
    if isinstance(outcome, Challenge):
        return mfa_challenge(user, outcome)
    return tokens_answer(authentication_result(outcome))
