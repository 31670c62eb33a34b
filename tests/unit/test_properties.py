"""Property tests (hypothesis) for the code that turns untrusted strings into Redis channel names.

The query string, the facility, user/group/session names and the Origin all come from the
client. Example-based tests check the cases we thought of; these check the rules of DESIGN.md
("No two audiences can ever share a channel") over generated input, including the characters
nobody thinks of. Example counts are modest so the unit suite stays fast.
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from wsredis_middleware.channels import (
    AUDIENCES,
    MAX_FACILITY_LENGTH,
    QUERY_KEYS,
    channel_name,
    check_facility,
    escape_name,
    parse_query,
)
from wsredis_middleware.exceptions import HandshakeError
from wsredis_middleware.handshake import check_origin

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text that leans towards the characters that matter here: separators, '%', whitespace, controls.
tricky_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(":%&=,;-_ \t\r\n\x00\x7f\x85\xa0\u2028\u200b\u202e\ufeff"),
        st.characters(),
    ),
    max_size=40,
)
facility_like = st.one_of(tricky_text, st.text(min_size=195, max_size=205))
audiences = st.sampled_from(AUDIENCES)
kinds = st.sampled_from(("subscribe", "publish"))


def spec_allows(facility: str) -> bool:
    """DESIGN.md's rule, spelled independently of the code: non-empty, bounded, and no ':',
    whitespace or control/format/unassigned characters (what ``str.isprintable`` rejects)."""
    return (0 < len(facility) <= MAX_FACILITY_LENGTH and ":" not in facility
            and facility.isprintable() and not any(c.isspace() for c in facility))


# -- parse_query --------------------------------------------------------------------------------------


@FAST
@given(st.one_of(st.text(max_size=200), tricky_text))
def test_parse_query_never_raises_and_returns_only_known_keys(query):
    keys, echo = parse_query(query)
    assert set(keys) <= QUERY_KEYS
    assert len(keys) == len(set(keys))  # duplicates dropped
    assert isinstance(echo, bool)


@FAST
@given(st.lists(st.tuples(kinds, audiences), max_size=10), st.booleans(), st.booleans())
def test_both_query_forms_are_equivalent(wanted, echo, shout):
    """``?subscribe-user&publish-broadcast`` means the same as ``?subscribe=user&publish=broadcast``."""
    case = str.upper if shout else str  # keys and values are case-insensitive
    flags = "&".join(case(f"{kind}-{audience}") for kind, audience in wanted)
    grouped = "&".join(
        f"{case(kind)}=" + ",".join(case(a) for k, a in wanted if k == kind)
        for kind in ("subscribe", "publish") if any(k == kind for k, _ in wanted)
    )
    if echo:
        flags += "&echo"
        grouped += "&echo"
    flag_keys, flag_echo = parse_query(flags)
    grouped_keys, grouped_echo = parse_query(grouped)
    expected = {f"{kind}-{audience}" for kind, audience in wanted}
    assert set(flag_keys) == set(grouped_keys) == expected
    assert flag_echo == grouped_echo == echo


# -- check_facility -----------------------------------------------------------------------------------


@FAST
@given(facility_like)
def test_check_facility_accepts_exactly_what_the_design_allows(facility):
    if spec_allows(facility):
        assert check_facility(facility) == facility
    else:
        with pytest.raises(ValueError):
            check_facility(facility)


# -- escape_name --------------------------------------------------------------------------------------


@FAST
@given(tricky_text)
def test_escape_name_is_reversible_hence_injective(name):
    """Percent-decoding gives the name back, so two different names never escape alike.

    (``surrogatepass``: a lone surrogate is a possible ``str`` and is escaped as its 3 bytes.)
    """
    assert unquote(escape_name(name), errors="surrogatepass") == name


@FAST
@given(tricky_text, tricky_text)
def test_escape_name_distinct_names_stay_distinct(first, second):
    assume(first != second)
    assert escape_name(first) != escape_name(second)


@FAST
@given(tricky_text)
def test_escaped_names_are_safe_between_separators(name):
    escaped = escape_name(name)
    assert ":" not in escaped
    assert escaped.isprintable()
    assert not any(c.isspace() for c in escaped)


@FAST
@given(tricky_text)
def test_escape_name_leaves_safe_names_alone(name):
    """ws4redis-compatible names (no '%', ':', whitespace, controls) keep their exact spelling."""
    assume("%" not in name and spec_allows(name or "x"))
    assert escape_name(name) == name


# -- channel_name -------------------------------------------------------------------------------------

valid_facilities = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"),
                           blacklist_characters=":"),
    min_size=1, max_size=40,
).filter(spec_allows)
triples = st.tuples(audiences, tricky_text, valid_facilities)


def parse_channel(prefix: str, channel: str) -> tuple[str, str | None, str]:
    """Read (audience, name, facility) back from a channel name: possible only if the scheme is unambiguous."""
    if prefix:
        assert channel.startswith(prefix + ":")
        channel = channel[len(prefix) + 1:]
    audience, _, rest = channel.partition(":")
    if audience == "broadcast":
        return audience, None, rest
    escaped, _, facility = rest.partition(":")
    return audience, unquote(escaped, errors="surrogatepass"), facility


@FAST
@given(triples, st.sampled_from(["", "ws", "app:v2"]))
def test_channel_name_can_be_read_back(triple, prefix):
    audience, name, facility = triple
    channel = channel_name(prefix, audience, facility, name)
    assert parse_channel(prefix, channel) == (audience, None if audience == "broadcast" else name, facility)


@FAST
@given(triples, triples)
def test_no_two_triples_share_a_channel(first, second):
    def key(triple: tuple[str, str, str]) -> tuple[str, str | None, str]:
        audience, name, facility = triple
        return audience, None if audience == "broadcast" else name, facility  # broadcast has no name

    assume(key(first) != key(second))
    assert channel_name("", first[0], first[2], first[1]) != channel_name("", second[0], second[2], second[1])


@FAST
@given(st.sampled_from(["user", "group", "session"]), st.sampled_from(["a:b", "a%3Ab", "a%253Ab", "a b", "a%20b"]),
       st.sampled_from(["a:b", "a%3Ab", "a%253Ab", "a b", "a%20b"]), valid_facilities)
def test_look_alike_names_never_collide(audience, first, second, facility):
    """The names an attacker would pick to land on someone else's channel."""
    assume(first != second)
    assert channel_name("", audience, facility, first) != channel_name("", audience, facility, second)


# -- check_origin -------------------------------------------------------------------------------------


@FAST
@given(st.one_of(st.none(), tricky_text, st.builds(lambda h: f"http://{h}", tricky_text)), tricky_text)
def test_check_origin_only_ever_allows_or_refuses(origin, host):
    """Whatever the Origin and Host headers hold, the answer is pass or 403: never another error."""
    environ = {"HTTP_HOST": host}
    if origin is not None:
        environ["HTTP_ORIGIN"] = origin
    try:
        check_origin(environ, ())
    except HandshakeError as exc:
        assert exc.status.startswith("403")


@FAST
@given(st.from_regex(r"[a-z0-9]([a-z0-9.-]{0,20}[a-z0-9])?(:[1-9][0-9]{0,3})?", fullmatch=True),
       st.sampled_from(["http", "https"]))
def test_check_origin_always_allows_the_request_host(host, scheme):
    check_origin({"HTTP_HOST": host, "HTTP_ORIGIN": f"{scheme}://{host}"}, ())
