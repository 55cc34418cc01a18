"""Unit tests for chalicelib.identity.tokens: the one place tokens are verified.

Real RS256 tokens (tests/tokens.py), a JWKS served by a fetch function, a registry built from a
loader, and a fixed clock: no IO, and every claim shaped exactly.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from chalicelib.identity.jwks import Jwks
from chalicelib.identity.tokens import (
    ACCESS,
    ID,
    MAX_TOKEN_BYTES,
    Caller,
    TokenError,
    TokenVerifier,
    issuer_for,
)
from chalicelib.tenancy.registry import ACTIVE, PROVISIONING, REMOVED, AppRecord, Registry
from tests.tokens import Signer, access_claims, b64url, id_claims

ISSUER = issuer_for("eu-west-1", "eu-west-1_Unit")
NOW = 1_700_000_000.0
LEEWAY = 30.0
CHURCH, EVENTS = "church-client", "events-client"
ROLES = "integreat:roles"
APP = "integreat:app"
ALGORITHM_REFUSED = "unsupported algorithm: only RS256 is accepted"

APPS = {
    "church": AppRecord("church", ACTIVE, "Church", roles=("member", "admin", "editor"), clients=(CHURCH,)),
    "events": AppRecord(
        "events", ACTIVE, "Events", roles=("member", "admin"), clients=(EVENTS, "events-mobile")
    ),
    "gone": AppRecord("gone", REMOVED, "Gone", clients=("gone-client",)),
    "draft": AppRecord("draft", PROVISIONING, "Draft", clients=("draft-client",)),
}


def load_apps() -> Mapping[str, AppRecord]:
    return APPS


class BodySigner(Signer):
    """A Signer that can also sign a body that is not a claims object (a pool never would)."""

    def sign_body(self, body: bytes) -> str:
        head = self.sign({}).split(".")[0]
        segment = b64url(body)
        signature = self._key.sign(f"{head}.{segment}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{head}.{segment}.{b64url(signature)}"


@pytest.fixture(scope="module")
def signer() -> BodySigner:
    return BodySigner(kid="unit-key-1")


@pytest.fixture
def fetches() -> list[str]:
    return []


@pytest.fixture
def verifier(signer: Signer, fetches: list[str]) -> TokenVerifier:
    def fetch(url: str) -> bytes:
        fetches.append(url)
        return signer.jwks()

    return TokenVerifier(
        issuer=ISSUER,
        jwks=Jwks(f"{ISSUER}/.well-known/jwks.json", fetch=fetch, clock=lambda: NOW),
        registry=Registry(load_apps, clock=lambda: 100.0),
        clock=lambda: NOW,
        leeway_seconds=LEEWAY,
    )


def access(client: str = CHURCH, groups: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """Access-token claims issued at NOW, valid for an hour; `extra` overrides any claim."""
    groups = ["church"] if groups is None else groups
    return access_claims(ISSUER, client, "ann", groups, **{"iat": NOW, "exp": NOW + 3600, **extra})


def id_token_claims(client: str = CHURCH, groups: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    groups = ["church"] if groups is None else groups
    return id_claims(ISSUER, client, "ann", groups, **{"iat": NOW, "exp": NOW + 3600, **extra})


def without(claims: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in claims.items() if k not in names}


def with_header(token: str, header: object) -> str:
    """`token` with its header segment replaced (body and signature kept)."""
    _, body, signature = token.split(".")
    return f"{b64url(json.dumps(header).encode())}.{body}.{signature}"


def refusal(verifier: TokenVerifier, token: str, token_use: str = ACCESS) -> str:
    with pytest.raises(TokenError) as raised:
        verifier.verify(token, token_use)
    return raised.value.reason


ANN = str(uuid.uuid5(uuid.NAMESPACE_URL, "ann"))


# --- accepted tokens ----------------------------------------------------------------------------


def test_an_access_token_yields_the_caller(verifier: TokenVerifier, signer: Signer) -> None:
    token = signer.sign(access(groups=["church", "church-admin"]))

    caller = verifier.verify(token, ACCESS)

    assert caller == Caller(ANN, "ann", "church", ("member", "admin"), False, CHURCH, ACCESS)
    assert caller.is_member


def test_an_id_token_yields_the_caller(verifier: TokenVerifier, signer: Signer) -> None:
    token = signer.sign(id_token_claims(groups=["church", "church-editor"]))

    caller = verifier.verify(token, ID)

    assert caller == Caller(ANN, "ann", "church", ("member", "editor"), False, CHURCH, ID)


def test_the_app_comes_from_the_client(verifier: TokenVerifier, signer: Signer) -> None:
    token = signer.sign(access(client="events-mobile", groups=["events"]))

    assert verifier.verify(token).app == "events"


def test_roles_follow_the_apps_declared_order(verifier: TokenVerifier, signer: Signer) -> None:
    token = signer.sign(access(groups=["church-editor", "church-admin", "church"]))

    assert verifier.verify(token).roles == ("member", "admin", "editor")


def test_a_member_of_two_apps_gets_only_the_requesting_clients_roles(
    verifier: TokenVerifier, signer: Signer
) -> None:
    # Given a user who is admin of church and a plain member of events
    groups = ["church", "church-admin", "church-editor", "events"]

    # When they call with an events token, then with a church token
    as_events = verifier.verify(signer.sign(access(client=EVENTS, groups=groups)))
    as_church = verifier.verify(signer.sign(access(client=CHURCH, groups=groups)))

    # Then each carries only that app's roles
    assert (as_events.app, as_events.roles) == ("events", ("member",))
    assert (as_church.app, as_church.roles) == ("church", ("member", "admin", "editor"))


@pytest.mark.parametrize(
    "groups",
    [
        [],
        ["events", "events-admin"],
        ["church-admin", "church-editor"],  # role groups without membership are not membership
        ["churches", "church_x", "Church"],
    ],
)
def test_a_non_member_gets_a_caller_without_roles(
    verifier: TokenVerifier, signer: Signer, groups: list[str]
) -> None:
    caller = verifier.verify(signer.sign(access(groups=groups)))

    assert caller.app == "church"
    assert caller.roles == ()
    assert not caller.is_member
    assert not caller.is_admin


def test_unknown_role_groups_of_the_app_grant_nothing(verifier: TokenVerifier, signer: Signer) -> None:
    caller = verifier.verify(signer.sign(access(groups=["church", "church-root", "church-member"])))

    assert caller.roles == ("member",)


@pytest.mark.parametrize(
    ("groups", "roles"),
    [(["integreat-admin"], ()), (["integreat-admin", "church", "church-admin"], ("member", "admin"))],
)
def test_the_platform_admin_flag_comes_from_integreat_admin(
    verifier: TokenVerifier, signer: Signer, groups: list[str], roles: tuple[str, ...]
) -> None:
    caller = verifier.verify(signer.sign(access(groups=groups)))

    assert caller.is_admin
    assert caller.roles == roles


def test_a_token_without_groups_is_a_non_member(verifier: TokenVerifier, signer: Signer) -> None:
    caller = verifier.verify(signer.sign(without(access(), "cognito:groups")))

    assert caller.roles == ()
    assert not caller.is_admin


def test_a_verified_key_is_fetched_once_for_many_tokens(
    verifier: TokenVerifier, signer: Signer, fetches: list[str]
) -> None:
    for _ in range(20):
        verifier.verify(signer.sign(access()))

    assert fetches == [f"{ISSUER}/.well-known/jwks.json"]


# --- time ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("exp", [NOW + 1, NOW, NOW - LEEWAY + 1, NOW - LEEWAY])
def test_expiry_within_the_leeway_is_accepted(verifier: TokenVerifier, signer: Signer, exp: float) -> None:
    assert verifier.verify(signer.sign(access(exp=exp))).username == "ann"


@pytest.mark.parametrize("exp", [NOW - LEEWAY - 1, NOW - LEEWAY - 0.001, NOW - 86_400, 0])
def test_expiry_beyond_the_leeway_is_refused(verifier: TokenVerifier, signer: Signer, exp: float) -> None:
    assert refusal(verifier, signer.sign(access(exp=exp))) == "token expired"


@pytest.mark.parametrize("iat", [NOW + LEEWAY - 1, NOW + LEEWAY, NOW - 3000])
def test_issue_time_within_the_leeway_is_accepted(
    verifier: TokenVerifier, signer: Signer, iat: float
) -> None:
    assert verifier.verify(signer.sign(access(iat=iat))).username == "ann"


@pytest.mark.parametrize("iat", [NOW + LEEWAY + 1, NOW + 86_400])
def test_issue_time_in_the_future_beyond_the_leeway_is_refused(
    verifier: TokenVerifier, signer: Signer, iat: float
) -> None:
    assert refusal(verifier, signer.sign(access(iat=iat))) == "token issued in the future"


@pytest.mark.parametrize("iat", ["0", None, [NOW]])
def test_a_non_numeric_issue_time_is_refused(verifier: TokenVerifier, signer: Signer, iat: object) -> None:
    assert refusal(verifier, signer.sign(access(iat=iat))) == "token issued in the future"


def test_a_missing_expiry_is_refused(verifier: TokenVerifier, signer: Signer) -> None:
    assert refusal(verifier, signer.sign(without(access(), "exp"))) == "token expired"


@pytest.mark.parametrize("exp", [str(int(NOW + 3600)), None, [NOW + 3600], {"at": NOW + 3600}])
def test_a_non_numeric_expiry_is_refused(verifier: TokenVerifier, signer: Signer, exp: object) -> None:
    assert refusal(verifier, signer.sign(access(exp=exp))) == "token expired"


def test_a_nan_expiry_is_refused(verifier: TokenVerifier, signer: Signer) -> None:
    token = signer.sign(access(exp=float("nan")))

    assert refusal(verifier, token) == "malformed token"  # NaN is not JSON (RFC 8259): refused at decoding


# --- token_use, client, issuer ------------------------------------------------------------------


def test_an_access_token_is_refused_where_an_id_token_is_required(
    verifier: TokenVerifier, signer: Signer
) -> None:
    assert refusal(verifier, signer.sign(access()), ID) == "an id token is required"


def test_an_id_token_is_refused_where_an_access_token_is_required(
    verifier: TokenVerifier, signer: Signer
) -> None:
    assert refusal(verifier, signer.sign(id_token_claims()), ACCESS) == "an access token is required"


@pytest.mark.parametrize("token_use", [None, "refresh", "ACCESS", ["access"]])
def test_an_odd_token_use_claim_is_refused(
    verifier: TokenVerifier, signer: Signer, token_use: object
) -> None:
    assert refusal(verifier, signer.sign(access(token_use=token_use))) == "an access token is required"


@pytest.mark.parametrize(
    "client",
    [
        pytest.param("stranger-client", id="unknown"),
        pytest.param("gone-client", id="removed-app"),
        pytest.param("draft-client", id="provisioning-app"),
    ],
)
@pytest.mark.parametrize("token_use", [ACCESS, ID])
def test_a_client_without_an_active_app_is_refused(
    verifier: TokenVerifier, signer: Signer, client: str, token_use: str
) -> None:
    claims = access(client=client) if token_use == ACCESS else id_token_claims(client=client)

    reason = refusal(verifier, signer.sign(claims), token_use)

    assert reason == "token from a client that is not registered with Integreat"


@pytest.mark.parametrize("client_id", [None, 42, [CHURCH]])
def test_a_missing_or_non_string_client_is_refused(
    verifier: TokenVerifier, signer: Signer, client_id: object
) -> None:
    reason = refusal(verifier, signer.sign({**access(), "client_id": client_id}))

    assert reason == "token from a client that is not registered with Integreat"


def test_an_access_token_without_client_id_is_refused(verifier: TokenVerifier, signer: Signer) -> None:
    reason = refusal(verifier, signer.sign(without(access(), "client_id")))

    assert reason == "token from a client that is not registered with Integreat"


def test_an_id_token_takes_its_client_from_aud_not_client_id(verifier: TokenVerifier, signer: Signer) -> None:
    # An ID token's client is `aud`; a client_id claim in it proves nothing
    claims = {**id_token_claims(client="stranger-client"), "client_id": CHURCH}

    assert (
        refusal(verifier, signer.sign(claims), ID)
        == "token from a client that is not registered with Integreat"
    )


@pytest.mark.parametrize(
    "issuer",
    [
        issuer_for("eu-west-1", "eu-west-1_Other"),
        issuer_for("us-east-1", "eu-west-1_Unit"),
        ISSUER + "/",
        ISSUER.replace("https://", "http://"),
        None,
    ],
)
def test_another_issuer_is_refused(verifier: TokenVerifier, signer: Signer, issuer: object) -> None:
    assert refusal(verifier, signer.sign(access(iss=issuer))) == "token from another issuer"


@pytest.mark.parametrize("missing", ["sub", "username"])
def test_an_access_token_without_subject_is_refused(
    verifier: TokenVerifier, signer: Signer, missing: str
) -> None:
    assert refusal(verifier, signer.sign(without(access(), missing))) == "token has no subject"


def test_an_id_token_without_cognito_username_is_refused(verifier: TokenVerifier, signer: Signer) -> None:
    token = signer.sign(without(id_token_claims(), "cognito:username"))

    assert refusal(verifier, token, ID) == "token has no subject"


# --- malformed tokens ---------------------------------------------------------------------------


LIST_HEADER = b64url(b'["RS256", "unit-key-1"]')
STRING_HEADER = b64url(b'"RS256"')
NON_UTF8_HEADER = b64url(b'\xff\xfe{"alg": "RS256"}')


def _malformed_tokens(signer: Signer) -> dict[str, str]:
    good = signer.sign(access())
    head, body, signature = good.split(".")
    return {
        "empty": "",
        "one-segment": head,
        "two-segments": f"{head}.{body}",
        "four-segments": f"{good}.{signature}",
        "empty-segments": "..",
        "non-json-header": f"{b64url(b'not json')}.{body}.{signature}",
        "json-list-header": f"{LIST_HEADER}.{body}.{signature}",
        "json-string-header": f"{STRING_HEADER}.{body}.{signature}",
        "non-utf8-header": f"{NON_UTF8_HEADER}.{body}.{signature}",
        "padded-header": f"{head}=.{body}.{signature}",
        "standard-alphabet-signature": f"{head}.{body}.{signature.replace('-', '+').replace('_', '/')}+/",
        "oversized": signer.sign(access(padding="x" * MAX_TOKEN_BYTES)),
        "non-ascii-header": f"é{head}.{body}.{signature}",
        "non-ascii-signature": f"{head}.{body}.{signature}é",
    }


MALFORMED = (
    "empty",
    "one-segment",
    "two-segments",
    "four-segments",
    "empty-segments",
    "non-json-header",
    "json-list-header",
    "json-string-header",
    "non-utf8-header",
    "padded-header",
    "standard-alphabet-signature",
    "oversized",
    "non-ascii-header",
    "non-ascii-signature",
)


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_tokens_are_refused_as_malformed(
    verifier: TokenVerifier, signer: Signer, case: str
) -> None:
    token = _malformed_tokens(signer)[case]

    assert refusal(verifier, token) == "malformed token"


@pytest.mark.parametrize("case", ["two-segments", "four-segments", "non-json-header", "oversized"])
def test_malformed_tokens_never_reach_the_key_endpoint(
    verifier: TokenVerifier, signer: Signer, fetches: list[str], case: str
) -> None:
    refusal(verifier, _malformed_tokens(signer)[case])

    assert fetches == []


def test_a_token_just_under_the_size_limit_is_accepted(verifier: TokenVerifier, signer: Signer) -> None:
    base = len(signer.sign(access(padding="")))
    # base64url grows by 4/3: pad the claim so the whole token lands just under the limit
    token = signer.sign(access(padding="x" * ((MAX_TOKEN_BYTES - base) * 3 // 4 - 3)))
    assert MAX_TOKEN_BYTES - 8 < len(token) <= MAX_TOKEN_BYTES

    assert verifier.verify(token).username == "ann"


@pytest.mark.parametrize("body", [b'["not", "an", "object"]', b'"string"', b"null", b"not json", b"\xff"])
def test_a_validly_signed_body_that_is_not_a_json_object_is_refused(
    verifier: TokenVerifier, signer: BodySigner, body: bytes
) -> None:
    assert refusal(verifier, signer.sign_body(body)) == "malformed token"


def test_a_non_ascii_body_is_refused_as_malformed(verifier: TokenVerifier, signer: Signer) -> None:
    head, body, signature = signer.sign(access()).split(".")

    assert refusal(verifier, f"{head}.é{body}.{signature}") == "malformed token"


@pytest.mark.parametrize("junk", ["!", "\t", "*"])
def test_junk_in_the_signature_segment_is_refused(verifier: TokenVerifier, signer: Signer, junk: str) -> None:
    head, body, signature = signer.sign(access()).split(".")

    with pytest.raises(TokenError):
        verifier.verify(f"{head}.{body}.{signature[:10]}{junk * 4}{signature[10:]}")


# --- algorithm and key --------------------------------------------------------------------------


def test_alg_none_is_refused(verifier: TokenVerifier, fetches: list[str]) -> None:
    assert refusal(verifier, Signer.forge_none(access())) == ALGORITHM_REFUSED
    assert fetches == []


def test_hs256_keyed_with_the_public_key_is_refused(verifier: TokenVerifier, signer: Signer) -> None:
    assert refusal(verifier, signer.forge_hs256_with_public_key(access())) == ALGORITHM_REFUSED


@pytest.mark.parametrize("alg", ["RS512", "rs256", "RS256 ", "PS256", "ES256", "", None, ["RS256"]])
def test_any_alg_but_rs256_is_refused_even_with_a_valid_rs256_signature(
    verifier: TokenVerifier, signer: Signer, alg: object
) -> None:
    # The signature is a real RS256 one: the header is refused, never followed or ignored
    assert refusal(verifier, signer.sign(access(), alg=alg)) == ALGORITHM_REFUSED


def test_a_header_without_alg_is_refused(verifier: TokenVerifier, signer: Signer) -> None:
    token = with_header(signer.sign(access()), {"kid": signer.kid, "typ": "JWT"})

    assert refusal(verifier, token) == ALGORITHM_REFUSED


@pytest.mark.parametrize("kid", [None, 1, ["unit-key-1"], {"kid": "unit-key-1"}])
def test_a_missing_or_non_string_kid_is_refused(verifier: TokenVerifier, signer: Signer, kid: object) -> None:
    assert refusal(verifier, signer.sign(access(), kid=kid)) == "token has no key id"


def test_a_header_without_kid_is_refused(verifier: TokenVerifier, signer: Signer) -> None:
    token = with_header(signer.sign(access()), {"alg": "RS256", "typ": "JWT"})

    assert refusal(verifier, token) == "token has no key id"


def test_an_unknown_kid_is_refused(verifier: TokenVerifier, signer: Signer) -> None:
    assert refusal(verifier, signer.sign(access(), kid="unit-key-2")) == "unknown signing key"


def test_a_key_with_the_right_kid_but_another_modulus_is_refused(verifier: TokenVerifier) -> None:
    stranger = Signer(kid="unit-key-1")

    assert refusal(verifier, stranger.sign(access())) == "invalid signature"


def test_a_tampered_body_is_refused(verifier: TokenVerifier, signer: Signer) -> None:
    head, _, signature = signer.sign(access(groups=["church"])).split(".")
    _, promoted, _ = signer.sign(access(groups=["church", "church-admin"])).split(".")

    assert refusal(verifier, f"{head}.{promoted}.{signature}") == "invalid signature"


def test_an_unavailable_key_endpoint_is_refused_without_details(signer: Signer) -> None:
    def down(url: str) -> bytes:
        raise ConnectionRefusedError("secret internal address 10.0.0.7")

    verifier = TokenVerifier(
        issuer=ISSUER,
        jwks=Jwks("https://keys.invalid/jwks.json", fetch=down),
        registry=Registry(load_apps),
        clock=lambda: NOW,
    )

    assert refusal(verifier, signer.sign(access())) == "signing keys unavailable"


# --- groups and Integreat's claims --------------------------------------------------------------


@pytest.mark.parametrize(
    "groups",
    ["church", "church church-admin", ["church", 1], ["church", None], [["church"]], {"church": True}, None],
)
def test_a_groups_claim_that_is_not_a_list_of_strings_is_refused(
    verifier: TokenVerifier, signer: Signer, groups: object
) -> None:
    token = signer.sign(access(**{"cognito:groups": groups}))

    assert refusal(verifier, token) == "malformed groups claim"


@pytest.mark.parametrize(
    ("groups", "extra"),
    [
        (["church"], {APP: "church"}),
        (["church", "church-admin"], {APP: "church", ROLES: "member admin"}),
        (["church", "church-admin"], {ROLES: "admin member"}),
        (["church", "church-admin"], {ROLES: " member  admin "}),
        ([], {ROLES: ""}),
        (["events"], {APP: "church", ROLES: ""}),
    ],
)
def test_integreat_claims_that_agree_with_client_and_groups_are_accepted(
    verifier: TokenVerifier, signer: Signer, groups: list[str], extra: dict[str, str]
) -> None:
    caller = verifier.verify(signer.sign(access(groups=groups, **extra)))

    assert caller.app == "church"


@pytest.mark.parametrize(
    ("groups", "extra", "reason"),
    [
        (["church", "events"], {APP: "events"}, "app claim does not match the token's client"),
        (["church"], {APP: "Church"}, "app claim does not match the token's client"),
        (["church"], {APP: None}, "app claim does not match the token's client"),
        (["church"], {APP: ["church"]}, "app claim does not match the token's client"),
        (["church"], {ROLES: "member admin"}, "roles claim does not match the token's groups"),
        (["church", "church-admin"], {ROLES: "member"}, "roles claim does not match the token's groups"),
        (["church"], {ROLES: "member member"}, "roles claim does not match the token's groups"),
        (["church"], {ROLES: ["member"]}, "roles claim does not match the token's groups"),
        ([], {ROLES: "member"}, "roles claim does not match the token's groups"),
        (["church-admin"], {ROLES: "admin"}, "roles claim does not match the token's groups"),
        (
            ["events", "events-admin"],
            {ROLES: "member admin"},
            "roles claim does not match the token's groups",
        ),
    ],
)
def test_integreat_claims_that_disagree_are_refused(
    verifier: TokenVerifier, signer: Signer, groups: list[str], extra: dict[str, Any], reason: str
) -> None:
    assert refusal(verifier, signer.sign(access(groups=groups, **extra))) == reason


# --- what a refusal says ------------------------------------------------------------------------


def _refused_tokens(signer: Signer) -> dict[str, str]:
    good = signer.sign(access())
    head, body, signature = good.split(".")
    return {
        **{case: _malformed_tokens(signer)[case] for case in MALFORMED if case != "empty"},
        "alg-none": Signer.forge_none(access()),
        "unknown-kid": signer.sign(access(), kid="unit-key-2"),
        "bad-signature": f"{head}.{body}.{signature[:-4]}AAAA",
        "expired": signer.sign(access(exp=0)),
        "wrong-issuer": signer.sign(access(iss="https://attacker.example")),
        "unknown-client": signer.sign(access(client="stranger-client")),
        "bad-groups": signer.sign(access(**{"cognito:groups": "church"})),
        "bad-app-claim": signer.sign(access(**{APP: "events"})),
        "wrong-use": signer.sign(id_token_claims()),
    }


@pytest.mark.parametrize(
    "case",
    [c for c in MALFORMED if c != "empty"]
    + [
        "alg-none",
        "unknown-kid",
        "bad-signature",
        "expired",
        "wrong-issuer",
        "unknown-client",
        "bad-groups",
        "bad-app-claim",
        "wrong-use",
    ],
)
def test_a_refusal_never_repeats_the_token(verifier: TokenVerifier, signer: Signer, case: str) -> None:
    token = _refused_tokens(signer)[case]

    with pytest.raises(TokenError) as raised:
        verifier.verify(token)

    shown = f"{raised.value.reason} {raised.value} {raised.value!r}"
    assert raised.value.reason == str(raised.value)
    for piece in [token, *token.split(".")]:
        if len(piece) >= 8:
            assert piece not in shown
