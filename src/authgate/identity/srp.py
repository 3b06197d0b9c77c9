"""Cognito's SRP-6a (the USER_SRP_AUTH flow), server side: arithmetic and encodings only.

Every value is computed byte for byte as AWS's own clients compute it
(amazon-cognito-identity-js's AuthenticationHelper, which Amplify uses, and pycognito),
because a client only ever talks to Cognito and never negotiates: the 3072-bit group of
RFC 5054 with g = 2; hashes over *padded hex* (big-endian, even length, a leading 00 byte
when the top bit is set, as Java's BigInteger.toByteArray would write it);
k = H(N | g); x = H(salt | H(poolName | userId | ":" | password)); u = H(A | B); a
16-byte session key from HKDF-SHA256 with the info "Caldera Derived Key"; and the claim
signature HMAC-SHA256(key, poolName | userId | secretBlock | timestamp).

A verifier v = g^x mod N is password-equivalent against this protocol (whoever has v can
pose as the server, and guess passwords offline at SHA-256 speed), so callers keep it
encrypted at rest, like other secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

_N_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33"
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864"
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2"
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
)
N = int(_N_HEX, 16)
"""The 3072-bit safe prime of RFC 5054 (also RFC 3526 group 15)."""
G = 2
GROUP_BYTES = 384
SALT_BYTES = 16
EPHEMERAL_BYTES = 32
"""The server's secret b: 256 bits, RFC 5054's minimum (a's size is the client's choice)."""
KEY_BYTES = 16
SIGNATURE_BYTES = 32
_INFO = b"Caldera Derived Key\x01"
_MAX_PUBLIC_HEX = 1024  # a value below N needs 768 digits; a few leading zeros are fine

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TIMESTAMP = re.compile(
    r"(?P<day_name>[A-Z][a-z]{2}) (?P<month>[A-Z][a-z]{2}) (?P<day>[1-9]|[12][0-9]|3[01]) "
    r"(?P<hour>[01][0-9]|2[0-3]):(?P<minute>[0-5][0-9]):(?P<second>[0-5][0-9]) UTC "
    r"(?P<year>[1-9][0-9]{3})"
)
_HEX = re.compile(r"[0-9a-fA-F]+")


class SrpError(ValueError):
    """A value from the client is malformed or unsafe (e.g. A mod N = 0)."""


def pad_hex(value: int) -> str:
    """The padded hex AWS hashes: even length, and "00" first when the top bit is set."""
    if value < 0:
        raise ValueError("SRP values are non-negative")
    text = f"{value:x}"
    if len(text) % 2:
        text = "0" + text
    elif text[0] in "89abcdef":
        text = "00" + text
    return text


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _hex_h(hex_text: str) -> int:
    return int.from_bytes(_h(bytes.fromhex(hex_text)), "big")


K = _hex_h(pad_hex(N) + pad_hex(G))
"""The multiplier k = H(N | g), with g padded as itself ("02"), not to N's length."""


def pool_name(user_pool_id: str) -> str:
    """The part of a pool id after the region ("us-east-1_abc" -> "abc"), which Cognito
    mixes into x."""
    region, sep, name = user_pool_id.partition("_")
    if not (region and sep and name):
        raise ValueError(f"not a user pool id: {user_pool_id!r}")
    return name


def _text_bytes(text: str) -> bytes:
    """UTF-8 as JavaScript's encoder writes it: a lone surrogate becomes U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")


def salt_from(data: bytes) -> int:
    """A 128-bit salt from 16 bytes, its top bit set: always 32 hex digits and never a
    leading zero to lose (JavaScript clients parse SALT into a number and print it back)."""
    if len(data) != SALT_BYTES:
        raise ValueError("a salt is made from exactly 16 bytes")
    return int.from_bytes(data, "big") | (1 << (8 * SALT_BYTES - 1))


def new_salt() -> int:
    return salt_from(secrets.token_bytes(SALT_BYTES))


def salt_hex(salt: int) -> str:
    """SALT as Cognito sends it: plain hex; clients pad it themselves."""
    return f"{salt:x}"


def private_x(pool: str, user_id: str, password: str, salt: int) -> int:
    """x = H(salt | H(poolName | userId | ":" | password)), the inner hash as 32 bytes."""
    inner = _h(_text_bytes(f"{pool}{user_id}:{password}")).hex()
    return _hex_h(pad_hex(salt) + inner)


def verifier(pool: str, user_id: str, password: str, salt: int) -> int:
    """v = g^x mod N, what the server keeps instead of the password."""
    return pow(G, private_x(pool, user_id, password, salt), N)


def verifier_bytes(v: int) -> bytes:
    """Fixed-width form of a verifier, for sealing."""
    return v.to_bytes(GROUP_BYTES, "big")


def verifier_from_bytes(data: bytes) -> int:
    if len(data) != GROUP_BYTES:
        raise ValueError("a verifier is exactly 384 bytes")
    return int.from_bytes(data, "big")


def parse_public(text: object) -> int:
    """A client's SRP_A: hex, at most the group's size, and A mod N != 0 (else the shared
    secret is 0 and anyone "knows" it)."""
    if not isinstance(text, str) or not text or len(text) > _MAX_PUBLIC_HEX:
        raise SrpError("SRP_A must be a hexadecimal number below N.")
    if not _HEX.fullmatch(text):
        raise SrpError("SRP_A must be a hexadecimal number below N.")
    value = int(text, 16)
    if value >= N:
        raise SrpError("SRP_A must be a hexadecimal number below N.")
    if value % N == 0:
        raise SrpError("SRP_A mod N cannot be 0.")
    return value


@dataclass(frozen=True)
class ServerEphemeral:
    """The server's half of one exchange: secret b and public B = k*v + g^b mod N."""

    b: int
    B: int


def server_ephemeral(v: int) -> ServerEphemeral:
    """A fresh (b, B); B mod N is never 0 (the client refuses it), and u is never 0."""
    while True:
        b = secrets.randbits(8 * EPHEMERAL_BYTES)
        if b < 2:
            continue
        big_b = (K * v + pow(G, b, N)) % N
        if big_b != 0:
            return ServerEphemeral(b, big_b)


def scrambler(big_a: int, big_b: int) -> int:
    """u = H(A | B)."""
    return _hex_h(pad_hex(big_a) + pad_hex(big_b))


def _hkdf(ikm: bytes, salt: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869), one block of output, cut to 16 bytes."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    return hmac.new(prk, _INFO, hashlib.sha256).digest()[:KEY_BYTES]


def server_key(big_a: int, v: int, ephemeral: ServerEphemeral) -> bytes:
    """The session key the client derives from the password: S = (A * v^u)^b mod N,
    then HKDF(ikm = S, salt = u). Refuses A with A mod N = 0 or u = 0."""
    if big_a % N == 0:
        raise SrpError("SRP_A mod N cannot be 0.")
    u = scrambler(big_a, ephemeral.B)
    if u == 0:
        raise SrpError("u cannot be 0.")
    shared = pow(big_a * pow(v, u, N) % N, ephemeral.b, N)
    return _hkdf(bytes.fromhex(pad_hex(shared)), bytes.fromhex(pad_hex(u)))


def claim_signature(
    key: bytes, pool: str, user_id: str, secret_block: bytes, timestamp: str
) -> bytes:
    """What PASSWORD_CLAIM_SIGNATURE must be (before base64)."""
    message = pool.encode() + _text_bytes(user_id) + secret_block + timestamp.encode()
    return hmac.new(key, message, hashlib.sha256).digest()


def signature_matches(expected: bytes, given: bytes) -> bool:
    return hmac.compare_digest(expected, given)


def format_timestamp(moment: datetime) -> str:
    """Cognito's TIMESTAMP: "Tue Oct 6 01:02:03 UTC 2026" (the day not zero-padded)."""
    utc = moment.astimezone(UTC)
    return (
        f"{_DAYS[utc.weekday()]} {_MONTHS[utc.month - 1]} {utc.day} "
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d} UTC {utc.year}"
    )


def parse_timestamp(text: object) -> datetime:
    """Read a TIMESTAMP in exactly the form `format_timestamp` writes (a zero-padded day or
    a weekday that does not fit the date is refused, as Cognito refuses them)."""
    if not isinstance(text, str):
        raise SrpError("TIMESTAMP must be a string.")
    match = _TIMESTAMP.fullmatch(text)
    if match is None or match["month"] not in _MONTHS or match["day_name"] not in _DAYS:
        raise SrpError("TIMESTAMP is not in Cognito's format.")
    try:
        moment = datetime(
            int(match["year"]),
            _MONTHS.index(match["month"]) + 1,
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            tzinfo=UTC,
        )
    except ValueError:
        raise SrpError("TIMESTAMP names a date that does not exist.") from None
    if _DAYS[moment.weekday()] != match["day_name"]:
        raise SrpError("TIMESTAMP's weekday does not fit its date.")
    return moment
