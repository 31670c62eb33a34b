"""Channel names: query parsing, facility validation, name escaping (injective), Redis names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsredis_middleware.channels import (
    MAX_FACILITY_LENGTH,
    channel_name,
    check_facility,
    escape_name,
    identity_names,
    parse_query,
)
from wsredis_middleware.resolvers import Identity


@pytest.mark.parametrize(
    ("query", "keys", "echo"),
    [
        pytest.param("", [], False, id="empty"),
        pytest.param("subscribe-broadcast&publish-user", ["subscribe-broadcast", "publish-user"], False,
                     id="dash-form"),
        pytest.param("subscribe=broadcast,user&publish=user",
                     ["subscribe-broadcast", "subscribe-user", "publish-user"], False, id="list-form"),
        pytest.param("subscribe=broadcast&subscribe-broadcast&echo", ["subscribe-broadcast"], True,
                     id="duplicates-dropped"),
        pytest.param("publish-group&subscribe-session", ["publish-group", "subscribe-session"], False,
                     id="order-kept"),
        pytest.param("echo=1&subscribe-user", ["subscribe-user"], True, id="echo-with-value"),
        pytest.param("SUBSCRIBE=Broadcast, User", ["subscribe-broadcast", "subscribe-user"], False,
                     id="case-and-spaces"),
        pytest.param("subscribe-everything&subscribe=nothing&publish-broadcastx&x=1", [], False,
                     id="unknown-ignored"),
        pytest.param("subscribe=broadcast%2Cgroup", ["subscribe-broadcast", "subscribe-group"], False,
                     id="encoded-comma"),
    ],
)
def test_parse_query(query, keys, echo):
    assert parse_query(query) == (keys, echo)


@pytest.mark.parametrize("facility", ["foo", "chat-room_1.en", "x" * MAX_FACILITY_LENGTH, "café", "ünïcode/path"])
def test_check_facility_accepts(facility):
    assert check_facility(facility) == facility


@pytest.mark.parametrize(
    ("facility", "reason"),
    [
        pytest.param("", "no facility", id="empty"),
        pytest.param("a:b", "':'", id="colon"),
        pytest.param("a b", "whitespace", id="space"),
        pytest.param("a\tb", "whitespace", id="tab"),
        pytest.param("a\nb", "whitespace", id="newline"),
        pytest.param("a\x00b", "control", id="nul"),
        pytest.param("a\x7fb", "control", id="del"),
        pytest.param("a\u200bb", "control", id="zero-width-space"),
        pytest.param("a\u2028b", "whitespace", id="line-separator"),
        pytest.param("x" * (MAX_FACILITY_LENGTH + 1), "longer", id="too-long"),
    ],
)
def test_check_facility_refuses(facility, reason):
    with pytest.raises(ValueError, match=reason):
        check_facility(facility)


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        pytest.param("john", "john", id="plain-unchanged"),
        pytest.param("john.doe@example.com", "john.doe@example.com", id="email-unchanged"),
        pytest.param("a:b", "a%3Ab", id="colon"),
        pytest.param("100%", "100%25", id="percent"),
        pytest.param("a%3Ab", "a%253Ab", id="already-escaped-looking"),
        pytest.param("a b\n", "a%20b%0A", id="whitespace"),
        pytest.param("é:", "é%3A", id="non-ascii-kept"),
        pytest.param("a\u2028", "a%E2%80%A8", id="utf8-bytes"),
    ],
)
def test_escape_name(name, escaped):
    assert escape_name(name) == escaped


def _is_valid_facility(facility: str) -> bool:
    try:
        check_facility(facility)
    except ValueError:
        return False
    return True


names = st.text(min_size=1, max_size=30)
facilities = st.text(min_size=1, max_size=20).filter(_is_valid_facility)


@given(names, names)
def test_escape_name_is_injective(first, second):
    if first != second:
        assert escape_name(first) != escape_name(second)


@given(names)
def test_escaped_names_contain_no_separator_or_whitespace(name):
    escaped = escape_name(name)
    assert ":" not in escaped
    assert not any(c.isspace() for c in escaped)
    assert escaped.isprintable()


@given(st.sampled_from(["user", "group", "session"]), names, facilities,
       st.sampled_from(["user", "group", "session"]), names, facilities)
def test_distinct_audiences_never_share_a_channel(audience1, name1, facility1, audience2, name2, facility2):
    first = channel_name("", audience1, facility1, name1)
    second = channel_name("", audience2, facility2, name2)
    assert (first == second) == ((audience1, name1, facility1) == (audience2, name2, facility2))
    assert first.count(":") == 2  # audience:name:facility, whatever the name holds


@given(names, facilities)
def test_no_named_channel_collides_with_a_broadcast(name, facility):
    assert channel_name("", "user", facility, name) != channel_name("", "broadcast", f"{name}:{facility}")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(("", "broadcast", "chat"), "broadcast:chat", id="broadcast"),
        pytest.param(("ws", "broadcast", "chat"), "ws:broadcast:chat", id="broadcast-prefixed"),
        pytest.param(("", "user", "chat", "john"), "user:john:chat", id="user"),
        pytest.param(("ws", "group", "chat", "staff"), "ws:group:staff:chat", id="group-prefixed"),
        pytest.param(("", "session", "chat", "abc123"), "session:abc123:chat", id="session"),
        pytest.param(("", "user", "chat", "a:b"), "user:a%3Ab:chat", id="escaped"),
        pytest.param(("", "broadcast", "chat", "ignored"), "broadcast:chat", id="broadcast-has-no-name"),
    ],
)
def test_channel_name(args, expected):
    assert channel_name(*args) == expected


def test_channel_name_rejects_unknown_audience_and_missing_name():
    with pytest.raises(ValueError, match="unknown audience"):
        channel_name("", "everyone", "chat", "x")
    with pytest.raises(ValueError, match="needs a name"):
        channel_name("", "user", "chat")


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        pytest.param(Identity(user="john", groups=["a", "b"], session="s"),
                     {"user": ["john"], "group": ["a", "b"], "session": ["s"]}, id="full"),
        pytest.param(Identity(), {"user": [], "group": [], "session": []}, id="anonymous"),
        pytest.param(Identity(groups=["a"], session="s"), {"user": [], "group": [], "session": ["s"]},
                     id="groups-need-a-user"),
        pytest.param(Identity(user="", session=""), {"user": [], "group": [], "session": []}, id="empty-strings"),
    ],
)
def test_identity_names(identity, expected):
    assert {audience: identity_names(audience, identity) for audience in expected} == expected


def test_identity_names_has_none_for_broadcast():
    with pytest.raises(ValueError):
        identity_names("broadcast", Identity(user="john"))
