"""The form parser of the API's POST bodies gives exactly what the standard library's does."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote_plus

from hypothesis import given
from hypothesis import strategies as st

from switchboard.api.params import form_items

# Text rich in what form bodies are made of: separators, escapes (whole, cut short, not hex),
# pluses, non-ASCII letters and lone surrogates from a body decoded with replacement.
_pieces = st.sampled_from(["&", "=", "+", "%", "%2", "%41", "%e2%82%ac", "%C3", "%zz", "a",
                           "Z", "0", " ", "é", "€", "\ufffd", "\ud800", "\x00", ";", "&&", "=="])
bodies = st.lists(st.one_of(_pieces, st.text(max_size=4)), max_size=30).map("".join)


@given(bodies)
def test_any_body_parses_as_parse_qsl_parses_it(body: str) -> None:
    assert form_items(body) == parse_qsl(body, keep_blank_values=True)


@given(st.lists(st.tuples(st.text(), st.text()), max_size=5))
def test_encoded_pairs_come_back_as_they_were(pairs: list[tuple[str, str]]) -> None:
    body = "&".join(f"{quote_plus(name, errors='surrogatepass')}="
                    f"{quote_plus(value, errors='surrogatepass')}" for name, value in pairs)
    assert form_items(body) == parse_qsl(body, keep_blank_values=True)


def test_a_task_creation_body() -> None:
    assert form_items("Attributes=%7B%22n%22%3A+1%7D&Priority=5&Empty=&Bare") == [
        ("Attributes", '{"n": 1}'), ("Priority", "5"), ("Empty", ""), ("Bare", "")]
