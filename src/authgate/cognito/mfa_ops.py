"""TOTP in Cognito's shapes: the SOFTWARE_TOKEN_MFA and MFA_SETUP challenges,
AssociateSoftwareToken, VerifySoftwareToken and SetUserMFAPreference.

Every rule is the MFA domain's (`identity/mfa.py`, `identity/challenges.py`): one TOTP
factor per user, a code accepted once, wrong codes counted in the login throttle. Where
Cognito differs from authgate, authgate's rule holds and this module says so:
- the factor is on as soon as VerifySoftwareToken accepts its first code (Cognito waits
  for SetUserMFAPreference); its recovery codes are made but cannot be shown here (make
  new ones on the account page);
- replacing an enabled factor by AssociateSoftwareToken with an AccessToken needs a code
  of the current one, and SetUserMFAPreference cannot turn TOTP off (that needs a code:
  the account page or `/v1/me/mfa`);
- SMS and email factors do not exist, so SELECT_MFA_TYPE never occurs.
"""

from __future__ import annotations

from typing import Any

from authgate.cognito.call import Call
from authgate.cognito.errors import invalid_parameter, not_authorized
from authgate.cognito.next_step import completed, optional_parameter, parameter
from authgate.cognito.params import SECRET_HASH, SESSION, TOKEN, USERNAME, Shape
from authgate.errors import InvalidMfaSession, InvalidRequest, MfaNotEnabled
from authgate.identity.names import normalize_username
from authgate.identity.setup_handoff import SetupHandoff
from authgate.store.records import UserRecord
from authgate.tokens.cognito_claims import POOL_SCOPE

TOTP_CODE = Shape(6, 6, r"[0-9]+")
DEVICE_NAME = Shape(0, 131072)


async def _signed_in(call: Call) -> UserRecord:
    token = call.params.text("AccessToken", TOKEN)
    user, claims = await call.services.users.authenticate(token)
    if POOL_SCOPE not in str(claims.get("scope", "")).split():
        raise not_authorized("Access Token does not have required scopes")
    return user


def _handoff(call: Call) -> SetupHandoff:
    return SetupHandoff(call.services.store, call.services.srp.sessions)


def _names(username: str, user: UserRecord) -> bool:
    try:
        return normalize_username(username) == user.username
    except InvalidRequest:
        return False


async def software_token_mfa(
    call: Call, client_id: str, responses: dict[str, str], session: str | None
) -> dict[str, Any]:
    username = parameter(responses, "USERNAME", USERNAME)
    code = parameter(responses, "SOFTWARE_TOKEN_MFA_CODE", TOTP_CODE)
    hash_given = optional_parameter(responses, "SECRET_HASH", SECRET_HASH)
    client = await call.services.clients.for_secret_hash(client_id, username, hash_given)
    login = call.services.mfa_login
    user, bound = await login.bound_to(session, "totp")
    if bound != client.client_id or not _names(username, user):
        raise InvalidMfaSession()
    return await completed(call, await login.answer(session, call.caller, code=code))


async def mfa_setup(
    call: Call, client_id: str, responses: dict[str, str], session: str | None
) -> dict[str, Any]:
    """The tokens of a sign-in whose factor VerifySoftwareToken just enrolled."""
    username = parameter(responses, "USERNAME", USERNAME)
    hash_given = optional_parameter(responses, "SECRET_HASH", SECRET_HASH)
    client = await call.services.clients.for_secret_hash(client_id, username, hash_given)
    done = await _handoff(call).redeem(session, client.client_id)
    if not _names(username, done.user):
        raise InvalidMfaSession()
    return await completed(call, done)


def _one_of(call: Call) -> tuple[str | None, str | None]:
    """(AccessToken, Session): exactly one must be given."""
    access = call.params.optional_text("AccessToken", TOKEN)
    session = call.params.optional_text("Session", SESSION)
    if (access is None) == (session is None):
        raise invalid_parameter("Either AccessToken or Session must be given, not both.")
    return access, session


async def associate_software_token(call: Call) -> dict[str, Any]:
    access, session = _one_of(call)
    if session is not None:
        enrolment = await call.services.mfa_login.setup(session, call.caller)
        return {"SecretCode": enrolment.secret, "Session": session}
    user = await _signed_in(call)
    enrolment = await call.services.mfa.enrol(user, call.caller)
    return {"SecretCode": enrolment.secret}


async def verify_software_token(call: Call) -> dict[str, Any]:
    access, session = _one_of(call)
    code = call.params.text("UserCode", TOTP_CODE)
    call.params.optional_text("FriendlyDeviceName", DEVICE_NAME)
    if session is not None:
        done, _ = await call.services.mfa_login.setup_verify(session, code, call.caller)
        return {"Status": "SUCCESS", "Session": await _handoff(call).hold(done)}
    user = await _signed_in(call)
    await call.services.mfa.finish_enrolment(user, code, call.caller)
    return {"Status": "SUCCESS"}


async def set_user_mfa_preference(call: Call) -> dict[str, Any]:
    user = await _signed_in(call)
    keys = ("Enabled", "PreferredMfa")
    for other in ("SMSMfaSettings", "EmailMfaSettings"):
        flags = call.params.flags(other, keys)
        if flags is not None and (flags["Enabled"] or flags["PreferredMfa"]):
            raise invalid_parameter(f"{other[:-11].upper()} MFA is not supported by this pool.")
    totp = call.params.flags("SoftwareTokenMfaSettings", keys)
    if totp is None:
        return {}
    mfa = call.services.mfa
    mfa.ensure_on()
    enabled = (await mfa.status(user.sub)).totp
    if (totp["Enabled"] or totp["PreferredMfa"]) and not enabled:
        raise MfaNotEnabled("Software Token MFA has not been enabled by the user.")
    if not totp["Enabled"] and not totp["PreferredMfa"] and enabled:
        raise invalid_parameter(
            "Turning the software token off needs one of its codes: use the account page "
            "or /v1/me/mfa."
        )
    return {}
