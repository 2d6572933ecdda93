"""The name resolver, by property: any text resolves to a known term or is one clear error,
and a known label resolves the same in any case and with any punctuation."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medspa_graph.errors import UnknownJurisdictionError, UnknownTermError
from medspa_graph.knowledge.names import normalize

KINDS = ["role", "procedure", "product", "condition", "treatment", "jurisdiction"]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# text people type: letters, digits, punctuation, spaces, control characters and the odd emoji
names = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="ascii"), max_size=30),
    st.sampled_from(["", " ", "RN", "US-", "botox\n", "<script>", "../..", "💉", "\x00", "US-FL\x00",
                     "https://w3id.org/medspa-graph/ontology#", "?x", "\\u0053ERVICE"]),
)


@pytest.fixture(scope="module")
def labels(kb):
    """Every term's English label, by kind (each names its one term)."""
    out = {kind: [(kb.label(term), term) for term in kb.names.terms(kind)] for kind in KINDS}
    assert all(out.values())
    return out


@SETTINGS
@given(name=names, kind=st.sampled_from(KINDS))
def test_any_text_resolves_to_a_known_term_or_is_one_clear_error(kb, name, kind):
    try:
        iri = kb.resolve(name, kind)
    except UnknownJurisdictionError as e:
        assert kind == "jurisdiction"
        message = str(e)
        assert message.startswith("unknown jurisdiction ") and "; known: US, US-AK, US-AL" in message
    except UnknownTermError as e:
        assert kind != "jurisdiction"
        message = str(e)
        assert message.startswith((f"unknown {kind} ", f"ambiguous {kind} "))
    else:
        assert str(iri) in kb.names.terms(kind)
        return
    assert "\n" not in message and "\r" not in message and len(message) < 1000


@SETTINGS
@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_a_known_label_resolves_in_any_case_and_punctuation(kb, labels, data, kind):
    label, term = data.draw(st.sampled_from(labels[kind]))
    spelled = ""
    for ch in label:
        spelled += data.draw(st.sampled_from([ch.lower(), ch.upper()]))
        spelled += data.draw(st.text(alphabet=" -_.,/'()&*:", max_size=2))
    spelled = data.draw(st.text(alphabet=" \t-", max_size=2)) + spelled
    assert str(kb.resolve(spelled, kind)) == term, spelled


@SETTINGS
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_a_term_iri_resolves_to_itself(kb, kind, data):
    term = data.draw(st.sampled_from(kb.names.terms(kind)))
    assert str(kb.resolve(term, kind)) == term


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_normalize_keeps_only_lowercase_letters_and_digits_and_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once and all(c in "abcdefghijklmnopqrstuvwxyz0123456789" for c in once)
