"""How usernames and email addresses are compared, and which usernames may exist.

A username is a login name that reaches tokens (`username`, `preferred_username`) and
other people's screens, so it may hold only letters, digits and `.`, `_`, `-`, `@`: no
spaces, no punctuation that could carry a sentence or a link into a message. A name with
an `@` claims an email address, so it must be the account's own address.

Look-alikes: a name that mixes writing systems within a word (Cyrillic `о` inside
`suppоrt`) is refused outright, and every stored name carries its Unicode TR39 skeleton
in a unique column, so `suppоrt@…` cannot sit beside `support@…` even when both are
created at once on two replicas. The skeleton and the script data come from `disarm`
(Unicode confusables and scripts bundled in its wheel) rather than PyICU: PyICU must be
compiled against the machine's ICU, and a skeleton that depends on which ICU a replica
was built with could differ between replicas sharing one unique index; a wheel pins
the data to the package version instead. `digit_policy="tr39"` keeps TR39's classes
that join `1`/`l`/`I` and `0`/`O`.
"""

from __future__ import annotations

import unicodedata

import disarm
from email_validator import EmailNotValidError, validate_email

from authgate.errors import InvalidRequest, InvalidUsername

MAX_USERNAME = 256
_PUNCTUATION = frozenset("._-@")
_LETTER_OR_DIGIT = ("L", "Nd")


def normalize_username(value: object) -> str:
    """Usernames compare case-insensitively and by Unicode compatibility form."""
    if not isinstance(value, str):
        raise InvalidRequest("username must be a string.", field="username")
    name = unicodedata.normalize("NFKC", value).strip().casefold()
    if not name or len(name) > MAX_USERNAME or any(unicodedata.category(c)[0] == "C" for c in name):
        raise InvalidRequest("username is empty, too long or has control characters.")
    return name


def _allowed(char: str, previous: str | None) -> bool:
    if char in _PUNCTUATION:
        return True
    category = unicodedata.category(char)
    if category.startswith(_LETTER_OR_DIGIT):
        return True
    # Combining marks belong to scripts that need them, but only on a letter.
    return category in ("Mn", "Mc") and previous is not None and previous not in _PUNCTUATION


def check_new_username(name: str, own_email: str | None) -> str:
    """The skeleton of `name` (already normalized) if it may be created, else `InvalidUsername`.

    Only the name and the account's own address decide, never other accounts, so the
    answer tells nothing about who else exists; a clash of skeletons is the caller's
    business, inside its transaction.
    """
    if "@" in name:
        # The address itself was checked as an email; it is no free text of the requester.
        if own_email is None or name != normalize_username(own_email):
            raise InvalidUsername(
                "A username with an @ must be the account's own email address.",
                field="username",
            )
    else:
        previous: str | None = None
        for char in name:
            if not _allowed(char, previous):
                raise InvalidUsername(
                    "A username may hold only letters, digits and . _ - @ (no spaces).",
                    field="username",
                )
            previous = char
        if not any(unicodedata.category(c).startswith(_LETTER_OR_DIGIT) for c in name):
            raise InvalidUsername("A username needs a letter or a digit.", field="username")
    if disarm.is_mixed_script(name, per_word=True):
        raise InvalidUsername(
            "A username may not mix writing systems within a word.", field="username"
        )
    key = username_skeleton(name)
    if not key:
        raise InvalidUsername("The username has no visible characters.", field="username")
    return key


def username_skeleton(name: str) -> str:
    """The TR39 look-alike key of a username: equal keys mean the names look alike."""
    return disarm.skeleton_key(name, digit_policy="tr39")


def normalize_email(value: object) -> str:
    if not isinstance(value, str) or len(value) > 320:
        raise InvalidRequest("email must be an email address.", field="email")
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise InvalidRequest("email is not a valid email address.", field="email") from None
    return str(checked.normalized).lower()
