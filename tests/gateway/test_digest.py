"""Digest authentication: RFC vectors, SIP examples worked by hand, challenge parsing."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.sip.auth import (
    ALGORITHMS,
    AuthChallenge,
    DigestChallenge,
    DigestClient,
    DigestCredentials,
    DigestError,
    build_authorization,
    compute_response,
    credentials_header_for,
    make_challenge,
    parse_authorization,
    parse_challenge,
    parse_challenges,
    parse_digest_challenges,
    verify,
)

# --------------------------------------------------------------------------- RFC vectors

RFC2617_CHALLENGE = (
    'Digest realm="testrealm@host.com", qop="auth,auth-int", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)


def test_rfc2617_section_3_5() -> None:
    assert (
        compute_response(
            algorithm="MD5",
            username="Mufasa",
            realm="testrealm@host.com",
            password="Circle Of Life",
            nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
            method="GET",
            uri="/dir/index.html",
            qop="auth",
            nc=1,
            cnonce="0a4f113b",
        )
        == "6629fae49393a05397450978507c4ef1"
    )


def test_rfc2617_section_3_5_whole_header() -> None:
    challenge = parse_challenge(RFC2617_CHALLENGE)
    assert challenge.qop == ("auth", "auth-int")
    header = build_authorization(
        challenge,
        DigestCredentials("Mufasa", "Circle Of Life"),
        "GET",
        "/dir/index.html",
        cnonce="0a4f113b",
    )
    assert header == (
        'Digest username="Mufasa", realm="testrealm@host.com", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", '
        'response="6629fae49393a05397450978507c4ef1", algorithm=MD5, cnonce="0a4f113b", '
        'opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=00000001'
    )


# RFC 7616 §3.9.1: the server offers SHA-256 and MD5 in two header fields.
RFC7616_SHA256 = (
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
    'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
    'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)
RFC7616_MD5 = RFC7616_SHA256.replace("algorithm=SHA-256", "algorithm=MD5")
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC7616_CREDENTIALS = DigestCredentials("Mufasa", "Circle of Life")  # lower-case "of" here


@pytest.mark.parametrize(
    ("header", "response"),
    [
        (RFC7616_SHA256, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
        (RFC7616_MD5, "8ca523f5e9506fed4657c9700eebdbec"),
    ],
)
def test_rfc7616_section_3_9_1(header: str, response: str) -> None:
    challenge = parse_challenge(header)
    value = build_authorization(
        challenge, RFC7616_CREDENTIALS, "GET", "/dir/index.html", cnonce=RFC7616_CNONCE
    )
    algorithm = "SHA-256" if "SHA-256" in header else "MD5"
    assert value == (
        'Digest username="Mufasa", realm="http-auth@example.org", '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", uri="/dir/index.html", '
        f'response="{response}", algorithm={algorithm}, cnonce="{RFC7616_CNONCE}", '
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", qop=auth, nc=00000001'
    )


@pytest.mark.parametrize("order", [(RFC7616_SHA256, RFC7616_MD5), (RFC7616_MD5, RFC7616_SHA256)])
def test_rfc7616_strongest_challenge_is_chosen(order: tuple[str, str]) -> None:
    assert parse_challenge(*order).algorithm == "SHA-256"
    assert parse_challenge(", ".join(order)).algorithm == "SHA-256"  # one field, two challenges


# --------------------------------------------------------------------------- SIP, by hand
#
# Worked with nothing but the RFC 7616 §3.4 formulas and a hash tool:
#   HA1 = MD5("alice:sip.example.net:s3cret!")          = a0417abfd6833b84b2faa5dd84b3a034
#   HA2 = MD5("REGISTER:sip:sip.example.net")           = ccadc48cba42bf8cd5456ad5320cedaa
#   response(nc=1) = MD5(HA1:4a8f0c6d3b2e1f70:00000001:0a1b2c3d:auth:HA2)
#                                                       = 7dedec41b76fdca225a83ebc00571d74
#   response(nc=2)                                      = 9b874716157d5b61b4782b01f5c05834

ALICE = DigestCredentials("alice", "s3cret!")
REGISTER_401 = 'Digest realm="sip.example.net", nonce="4a8f0c6d3b2e1f70", algorithm=MD5, qop="auth"'


def test_hand_worked_intermediates() -> None:
    md5 = hashlib.md5  # the test's own arithmetic, independent of the module
    assert md5(b"alice:sip.example.net:s3cret!").hexdigest() == "a0417abfd6833b84b2faa5dd84b3a034"
    assert md5(b"REGISTER:sip:sip.example.net").hexdigest() == "ccadc48cba42bf8cd5456ad5320cedaa"


def test_sip_register_with_client_counts_nonce_uses() -> None:
    client = DigestClient(ALICE)
    challenge = client.challenge(REGISTER_401)
    assert (challenge.realm, challenge.nonce, challenge.algorithm) == (
        "sip.example.net",
        "4a8f0c6d3b2e1f70",
        "MD5",
    )
    first = client.authorization("REGISTER", "sip:sip.example.net", cnonce="0a1b2c3d")
    assert first == (
        'Digest username="alice", realm="sip.example.net", nonce="4a8f0c6d3b2e1f70", '
        'uri="sip:sip.example.net", response="7dedec41b76fdca225a83ebc00571d74", '
        'algorithm=MD5, cnonce="0a1b2c3d", qop=auth, nc=00000001'
    )
    refresh = client.authorization("REGISTER", "sip:sip.example.net", cnonce="0a1b2c3d")
    assert 'response="9b874716157d5b61b4782b01f5c05834"' in refresh
    assert refresh.endswith("nc=00000002")


def test_stale_challenge_restarts_the_count() -> None:
    client = DigestClient(ALICE)
    client.challenge(REGISTER_401)
    client.authorization("REGISTER", "sip:sip.example.net", cnonce="c")
    client.authorization("REGISTER", "sip:sip.example.net", cnonce="c")
    stale = client.challenge(REGISTER_401.replace("4a8f0c6d3b2e1f70", "5b9e") + ", stale=TRUE")
    assert stale.stale is True
    assert client.authorization("REGISTER", "sip:sip.example.net").endswith("nc=00000001")
    client.challenge(REGISTER_401)  # an old nonce coming back continues where it was
    assert client.authorization("REGISTER", "sip:sip.example.net").endswith("nc=00000003")


def test_client_needs_a_challenge_first() -> None:
    with pytest.raises(DigestError, match="no challenge"):
        DigestClient(ALICE).authorization("INVITE", "sip:bob@example.net")


# INVITE through a proxy that asks for SHA-256 (RFC 8760):
#   HA1 = SHA-256("alice:sip.example.net:s3cret!")
#       = fe033d26c0e156b4a871c2f99917d7ff78bdef971921db0a838259bf944711e9
#   HA2 = SHA-256("INVITE:sip:+38612345678@sip.example.net;user=phone")
#       = 7a527ec53c8f42bd91dde8fa264a6bf610d7366f8dd96b68a99beab8ebc962b5
#   response = SHA-256(HA1:b9f1e2d3c4a5968778695a4b3c2d1e0f:00000001:5f4dcc3b:auth:HA2)
#       = 8a1020e19b33e1d38c28f6d1a05542e4ddb6f4f0f982edfe088a5beb48c76420
INVITE_407 = (
    'Digest realm="sip.example.net", nonce="b9f1e2d3c4a5968778695a4b3c2d1e0f", '
    'opaque="", algorithm=SHA-256, qop="auth", stale=FALSE'
)


def test_sip_invite_proxy_sha256() -> None:
    assert credentials_header_for("Proxy-Authenticate") == "Proxy-Authorization"
    challenge = parse_challenge(INVITE_407)
    assert challenge.opaque == "" and challenge.stale is False
    value = build_authorization(
        challenge, ALICE, "INVITE", "sip:+38612345678@sip.example.net;user=phone", cnonce="5f4dcc3b"
    )
    assert value == (
        'Digest username="alice", realm="sip.example.net", '
        'nonce="b9f1e2d3c4a5968778695a4b3c2d1e0f", '
        'uri="sip:+38612345678@sip.example.net;user=phone", '
        'response="8a1020e19b33e1d38c28f6d1a05542e4ddb6f4f0f982edfe088a5beb48c76420", '
        'algorithm=SHA-256, cnonce="5f4dcc3b", opaque="", qop=auth, nc=00000001'
    )


def test_legacy_challenge_without_qop() -> None:
    # RFC 2069 form, as an old Asterisk sends it:
    #   HA1 = MD5("1001:asterisk:conf-pass") = 49d4d65b12e00f07f8dffa7cb1d29002
    #   HA2 = MD5("REGISTER:sip:pbx.example.com") = 5dd50701e4fda6a6f67ddd38ebd2732d
    #   response = MD5(HA1:1c5e3d2a:HA2) = 71e544acafda30d8c59ff8f50cd5dc9f
    challenge = parse_challenge('Digest algorithm=MD5, realm="asterisk", nonce="1c5e3d2a"')
    assert challenge.qop == ()
    value = build_authorization(
        challenge, DigestCredentials("1001", "conf-pass"), "REGISTER", "sip:pbx.example.com"
    )
    assert value == (
        'Digest username="1001", realm="asterisk", nonce="1c5e3d2a", '
        'uri="sip:pbx.example.com", response="71e544acafda30d8c59ff8f50cd5dc9f", algorithm=MD5'
    )
    assert "cnonce" not in value and "nc=" not in value


def test_no_algorithm_means_md5() -> None:
    challenge = parse_challenge('Digest realm="asterisk", nonce="1c5e3d2a"')
    assert challenge.algorithm == "MD5"


def test_md5_sess() -> None:
    # HA1 = MD5(MD5("alice:sip.example.net:s3cret!"):4a8f0c6d3b2e1f70:0a1b2c3d)
    challenge = parse_challenge(REGISTER_401.replace("algorithm=MD5", "algorithm=MD5-sess"))
    assert challenge.algorithm == "MD5-sess"
    value = build_authorization(
        challenge, ALICE, "REGISTER", "sip:sip.example.net", cnonce="0a1b2c3d"
    )
    assert 'response="c3bc8adcb5a641a4c226564bb6717ebd", algorithm=MD5-sess' in value


def test_auth_int_when_it_is_the_only_qop() -> None:
    # HA2 = MD5("INVITE:sip:conf@bridge.example.org:" + MD5(body))
    challenge = parse_challenge(REGISTER_401.replace('qop="auth"', 'qop="auth-int"'))
    value = build_authorization(
        challenge,
        ALICE,
        "INVITE",
        "sip:conf@bridge.example.org",
        cnonce="0a1b2c3d",
        body=b"v=0\r\n",
    )
    assert 'response="941807095ec294486ee97029c00a9798"' in value
    assert "qop=auth-int" in value


def test_sha512_256_and_userhash() -> None:
    if "SHA-512-256" not in ALGORITHMS:
        pytest.skip("this OpenSSL has no SHA-512/256")
    # The RFC 7616 §3.9.2 example is not used: its published values are disputed (erratum
    # 4897). Worked here instead, with username "Jäsøn Doe" hashed as UTF-8:
    #   userhash = SHA-512/256("Jäsøn Doe:api@example.org")
    #   response = SHA-512/256(HA1:nonce:00000001:cnonce:auth:HA2), HA2 over "GET:/doe.json"
    header = (
        'Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, '
        'nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", '
        'opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", charset=UTF-8, userhash=true'
    )
    challenge = parse_challenge(header)
    assert (challenge.userhash, challenge.charset) == (True, "UTF-8")
    value = build_authorization(
        challenge,
        DigestCredentials("J\u00e4s\u00f8n Doe", "Secret, or not?"),
        "GET",
        "/doe.json",
        cnonce="NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v",
    )
    parsed = parse_authorization(value)
    assert parsed.username == "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"
    assert parsed.response == "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5"
    assert parsed.userhash is True
    assert parsed.algorithm == "SHA-512-256"


# --------------------------------------------------------------------------- parsing


def test_quoted_commas_and_escapes() -> None:
    [challenge] = parse_digest_challenges(
        r'Digest realm="Example, Inc. \"VoIP\" \\ friends", nonce="a,b,c", qop="auth"'
    )
    assert challenge.realm == 'Example, Inc. "VoIP" \\ friends'
    assert challenge.nonce == "a,b,c"


def test_escaped_values_round_trip_into_the_answer() -> None:
    challenge = parse_challenge(r'Digest realm="say \"hi\"", nonce="n\\1"')
    value = build_authorization(challenge, DigestCredentials('bo"b', "pw"), "REGISTER", "sip:x")
    assert r'username="bo\"b", realm="say \"hi\"", nonce="n\\1"' in value
    parsed = parse_authorization(value)
    assert (parsed.username, parsed.realm, parsed.nonce) == ('bo"b', 'say "hi"', "n\\1")


def test_unknown_parameters_are_kept() -> None:
    challenge = parse_challenge(
        'Digest realm="r", nonce="n", x-vendor="a, b", foo=bar, domain="sip:a sip:b"'
    )
    assert challenge.params["x-vendor"] == "a, b"
    assert challenge.params["foo"] == "bar"
    assert challenge.domain == "sip:a sip:b"


@pytest.mark.parametrize(("flag", "stale"), [("TRUE", True), ("true", True), ("FALSE", False)])
def test_stale_flag(flag: str, stale: bool) -> None:
    assert parse_challenge(f'Digest realm="r", nonce="n", stale={flag}').stale is stale


def test_case_and_whitespace_tolerance() -> None:
    challenge = parse_challenge('digest REALM = "r" ,\tNonce="n",ALGORITHM=sha-256 , qop=auth')
    assert (challenge.realm, challenge.nonce, challenge.algorithm) == ("r", "n", "SHA-256")
    assert challenge.qop == ("auth",)  # unquoted qop, as some servers send it


def test_other_schemes_are_skipped() -> None:
    header = 'Basic realm="x", Negotiate YIIFhw==, Digest realm="r", nonce="n", Bearer'
    assert [c.scheme for c in parse_challenges(header)] == [
        "Basic",
        "Negotiate",
        "Digest",
        "Bearer",
    ]
    assert parse_challenges(header)[1] == AuthChallenge("Negotiate", token68="YIIFhw==")
    assert parse_challenge(header).realm == "r"


def test_multiple_algorithms_in_one_field_pick_the_strongest() -> None:
    header = (
        'Digest realm="r", nonce="1", algorithm=MD5, qop="auth", '
        'Digest realm="r", nonce="2", algorithm=SHA-256, qop="auth", '
        'Digest realm="r", nonce="3", algorithm=AKAv1-MD5, qop="auth"'
    )
    challenges = parse_digest_challenges(header)
    assert [c.algorithm for c in challenges] == ["MD5", "SHA-256", "AKAv1-MD5"]
    assert [c.supported for c in challenges] == [True, True, False]
    assert parse_challenge(header).nonce == "2"


def test_equal_strength_keeps_server_order() -> None:
    header = 'Digest realm="a", nonce="1", Digest realm="b", nonce="2"'
    assert parse_challenge(header).realm == "a"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ('Digest realm="r", nonce="n', "unterminated quoted string"),
        ('Digest realm="r", realm="s", nonce="n"', "appears twice"),
        ('Digest realm="r"', "without nonce"),
        ('Digest nonce="n"', "without realm"),
        ('Digest realm="r" nonce="n"', "expected ','"),
        ('Digest nonce="n", realm=', "expected a value for realm"),
        ("Digest realm=", "without realm"),  # a token68, as far as RFC 7235 goes
        ('Basic realm="r"', "no Digest challenge"),
        ("", "no Digest challenge"),
        ('Digest realm="r", nonce="n", algorithm=AKAv1-MD5', "no supported Digest challenge"),
        ('Digest realm="r", nonce="n", qop="auth-conf"', "no supported Digest challenge"),
        ('Digest realm="r", nonce="n", algorithm=MD5-sess', "no supported Digest challenge"),
        ('Digest realm="r", nonce="n", @=1', "expected a parameter name"),
    ],
)
def test_bad_challenges(header: str, message: str) -> None:
    with pytest.raises(DigestError, match=message):
        parse_challenge(header)


def test_header_injection_is_refused() -> None:
    challenge = parse_challenge('Digest realm="r\r\nX-Evil: 1", nonce="n"')
    with pytest.raises(DigestError, match="CR, LF or NUL"):
        build_authorization(challenge, ALICE, "REGISTER", "sip:x")


def test_credentials_header_names() -> None:
    assert credentials_header_for("WWW-Authenticate") == "Authorization"
    assert credentials_header_for("proxy-authenticate") == "Proxy-Authorization"
    with pytest.raises(ValueError, match="not a challenge header"):
        credentials_header_for("Authorization")


def test_password_is_not_in_repr() -> None:
    assert "s3cret" not in repr(ALICE)


def test_nonce_count_range() -> None:
    challenge = parse_challenge(REGISTER_401)
    with pytest.raises(DigestError, match="out of range"):
        build_authorization(challenge, ALICE, "REGISTER", "sip:x", nc=0)
    value = build_authorization(challenge, ALICE, "REGISTER", "sip:x", nc=0xFFFFFFFF, cnonce="c")
    assert value.endswith("nc=ffffffff")


def test_random_cnonce_when_not_given() -> None:
    challenge = parse_challenge(REGISTER_401)
    one = parse_authorization(build_authorization(challenge, ALICE, "REGISTER", "sip:x"))
    two = parse_authorization(build_authorization(challenge, ALICE, "REGISTER", "sip:x"))
    assert one.cnonce and two.cnonce and one.cnonce != two.cnonce


# --------------------------------------------------------------------------- server side

PASSWORDS = {("alice", "bridge.example.org"): "s3cret!"}


def lookup(username: str, realm: str) -> str | None:
    return PASSWORDS.get((username, realm))


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256", "MD5-sess", "SHA-256-sess"])
def test_verify_round_trip(algorithm: str) -> None:
    header = make_challenge("bridge.example.org", "abc123", algorithm=algorithm, opaque="op")
    assert isinstance(parse_challenge(header), DigestChallenge)
    value = build_authorization(parse_challenge(header), ALICE, "INVITE", "sip:conf@bridge")
    result = verify(
        value, "INVITE", lookup, realm="bridge.example.org", uri="sip:conf@bridge", opaque="op"
    )
    assert result.ok and result.username == "alice"


def test_verify_failures() -> None:
    header = make_challenge("bridge.example.org", "abc123", stale=True)
    assert "stale=TRUE" in header
    challenge = parse_challenge(header)
    good = build_authorization(challenge, ALICE, "INVITE", "sip:conf@bridge", cnonce="cc")
    wrong = build_authorization(
        challenge, DigestCredentials("alice", "guess"), "INVITE", "sip:conf@bridge"
    )

    def check(
        value: str,
        *,
        realm: str = "bridge.example.org",
        uri: str | None = None,
        algorithms: tuple[str, ...] = ALGORITHMS,
    ) -> str:
        result = verify(value, "INVITE", lookup, realm=realm, uri=uri, algorithms=algorithms)
        assert not result.ok
        return result.reason

    assert check(wrong) == "wrong response"
    assert check(good, realm="other") == "wrong realm 'bridge.example.org'"
    assert check(good, uri="sip:other@bridge") == "uri does not match the Request-URI"
    assert check(good, algorithms=("SHA-512-256",)) == "algorithm SHA-256 not allowed"
    assert check(good.replace('"alice"', '"mallory"')) == "unknown user"
    assert check("Basic YWxpY2U6cw==") == "expected exactly one Digest credentials value"
    assert "nc must be 8 hex digits" in check(good.replace("nc=00000001", "nc=1"))
    # Right password, nonce expired or nc replayed: stale, so the client retries silently.
    seen: set[tuple[str, int | None]] = set()

    def fresh(nonce: str, nc: int | None) -> bool:
        if (nonce, nc) in seen:
            return False
        seen.add((nonce, nc))
        return True

    assert verify(good, "INVITE", lookup, realm="bridge.example.org", nonce_valid=fresh).ok
    replay = verify(good, "INVITE", lookup, realm="bridge.example.org", nonce_valid=fresh)
    assert (replay.ok, replay.stale, replay.reason) == (False, True, "stale nonce")


def test_verify_auth_int_covers_the_body() -> None:
    header = make_challenge("bridge.example.org", "n1", algorithm="MD5", qop=["auth-int"])
    value = build_authorization(parse_challenge(header), ALICE, "INVITE", "sip:c", body=b"v=0\r\n")
    assert verify(value, "INVITE", lookup, realm="bridge.example.org", body=b"v=0\r\n").ok
    assert not verify(value, "INVITE", lookup, realm="bridge.example.org", body=b"v=1\r\n").ok


# --------------------------------------------------------------------------- fuzzing

_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(st.text())
def test_fuzz_challenge_parsing(text: str) -> None:
    try:
        parse_challenge(text)
    except DigestError:
        pass
    try:
        parse_authorization(text)
    except DigestError:
        pass


_PIECES = st.sampled_from(
    [
        "Digest ",
        "Basic ",
        "realm",
        "nonce",
        "qop",
        "algorithm",
        "=",
        '"',
        "\\",
        ",",
        " ",
        "a",
        "MD5",
        "SHA-256",
        "auth",
        "auth-int",
        "stale",
        "TRUE",
        "==",
        "\t",
    ]
)


@_SETTINGS
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_fuzz_challenge_grammar(text: str) -> None:
    try:
        challenge = parse_challenge(text)
    except DigestError:
        return
    try:
        build_authorization(challenge, ALICE, "REGISTER", "sip:x", cnonce="c")
    except DigestError as error:
        assert "CR, LF or NUL" in str(error)


_FIELD = st.text(st.characters(blacklist_characters="\r\n\0", blacklist_categories=["Cs"]))


@_SETTINGS
@given(_FIELD, _FIELD, _FIELD, _FIELD, st.sampled_from(ALGORITHMS), st.integers(1, 2**32 - 1))
def test_fuzz_answers_verify(
    username: str, password: str, realm: str, nonce: str, algorithm: str, nc: int
) -> None:
    challenge = parse_challenge(make_challenge(realm, nonce, algorithm=algorithm))
    assert (challenge.realm, challenge.nonce) == (realm, nonce)
    value = build_authorization(
        challenge, DigestCredentials(username, password), "REGISTER", "sip:x", nc=nc
    )
    result = verify(
        value, "REGISTER", lambda u, r: password if u == username else None, realm=realm
    )
    assert result.ok, result.reason
