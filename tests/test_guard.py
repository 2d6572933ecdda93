"""The guard reads SPARQL as the engine does: every known disguise of SERVICE and FROM is
refused, valid queries pass, and a differential fuzzer (bench/sparqlfuzz.py) finds no text
the guard passes and the engine would use to connect.
"""

import re
from pathlib import Path

import pytest
import sparqlfuzz

from medspa_graph.errors import QueryError
from medspa_graph.sparql.guard import RefusedQuery, check_offline, inspect

T = "http://127.0.0.1:59999/x"
W3C = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "w3c-sparql11-query"

DISGUISES = {
    "less-than then comment": f"SELECT ?x WHERE {{ FILTER(?a<?b)SERVICE#>\n<{T}> {{ ?x ?p ?o }} }}",
    "less-or-equal": f"SELECT ?x WHERE {{ FILTER(?a<=?b)SERVICE#>\n<{T}> {{ ?x ?p ?o }} }}",
    "greater-than and less-than": f"SELECT ?x WHERE {{ FILTER(?a>?b && ?c<?d)SERVICE#>\n<{T}> {{ }} }}",
    "silent": f"SELECT ?x WHERE {{ FILTER(?a<?b)SERVICE SILENT#>\n<{T}> {{ }} }}",
    "prefixed target": f"PREFIX t: <{T}/> SELECT ?x WHERE {{ FILTER(?a<?b)SERVICE#>\nt:x {{ }} }}",
    "in a subquery": f"SELECT ?x WHERE {{ {{ SELECT * WHERE {{ FILTER(?a<?b)SERVICE#>\n<{T}> {{ }} }} }} }}",
    "in NOT EXISTS": f"SELECT ?x WHERE {{ FILTER NOT EXISTS {{ FILTER(?a<?b)SERVICE#>\n<{T}> {{ }} }} }}",
    "triple quote after the comment": f"SELECT ?x WHERE {{ FILTER(?a<?b)'#>\nSERVICE <{T}> {{ }} }} #\"\"\"",
    "glued to true": f"PREFIX : <{T}/> SELECT * WHERE {{ ?s ?p trueSERVICE:x {{ }} }}",
    "glued to false": f"SELECT * WHERE {{ ?s ?p falseSERVICE<{T}> {{ }} }}",
    "glued to a number": f"SELECT * WHERE {{ ?s ?p 1SERVICE <{T}> {{ }} }}",
    "glued to its prefixed target": f"PREFIX : <{T}/> SELECT * WHERE {{ SERVICE:x {{ }} }}",
    "keyword as a prefix name": f"PREFIX t: <{T}/> SELECT * WHERE {{ SERVICEt:x {{ }} }}",
    "escaped quote in a string": f'SELECT * WHERE {{ ?s ?p "\\u0022" . SERVICE <{T}> {{ }} }} #"""',
    "escaped keyword": f"SELECT * WHERE {{ \\u0053ERVICE <{T}> {{ }} }}",
    "lower case": f"select * where {{ service <{T}> {{ }} }}",
    "load glued": f"LOAD<{T}>",
}


@pytest.mark.parametrize("name", DISGUISES)
def test_every_disguise_of_service_and_load_is_refused(name):
    with pytest.raises(RefusedQuery, match=r"(SERVICE|LOAD) refused"):
        check_offline(DISGUISES[name])


@pytest.mark.parametrize("text", [
    f"SELECT * FROM <urn:g> WHERE {{ FILTER(?a<?b)FROM#>\n<{T}> }}",
    f"SELECT * WHERE {{ FILTER(?a<?b)FROM#>\n<{T}> }}",
])
def test_a_from_hidden_after_less_than_is_listed_for_the_dataset_check(text):
    assert ("FROM", T) in inspect(text).graphs


@pytest.mark.parametrize("text", ["ASKFROM <urn:g> {}", "PREFIX g: <urn:g> SELECT * FROMg:x WHERE {}",
                                  "SELECT * WHERE { ?s ?p trueFROM <urn:g> }"])
def test_a_dataset_keyword_glued_to_a_word_is_refused(text):
    with pytest.raises(RefusedQuery, match="reads as FROM to the engine; put a space after FROM"):
        inspect(text)


@pytest.mark.parametrize("text", [
    "SELECT * WHERE { ?s <http://example.org/service#load> ?o }",
    "SELECT ?service ?load WHERE { ?service ?p ?load FILTER(?service < 3) }",
    "PREFIX ex: <http://example.org/from#> SELECT * FROM ex:g WHERE { ?s ex:with ?o }",
    "SELECT * WHERE { ?s ?p 'SERVICE <http://x/> {}' } # SERVICE <http://x/>",
])
def test_words_inside_names_strings_and_comments_are_not_keywords(text):
    inspect(text)


def test_every_valid_w3c_query_without_service_passes():
    import pyoxigraph as ox

    refused = []
    for path in sorted(W3C.rglob("*.rq")):
        text = path.read_text(encoding="utf-8")
        try:
            ox.Store().query(text, base_iri="http://example.org/")
        except SyntaxError:
            continue
        except Exception:  # noqa: BLE001 - parses; the data does not matter here
            pass
        if re.search(r"service", text, re.I):
            continue
        try:
            inspect(text)
        except QueryError as e:
            refused.append(f"{path.name}: {e}")
    assert refused == []


@pytest.mark.parametrize("text", ["SELECT * WHERE { " + " UNION ".join(["{}"] * 12_000) + " }",
                                  "SELECT * WHERE { BIND(" + "+".join(["1"] * 12_000) + " AS ?x) }",
                                  "SELECT * WHERE { ?s ?p ?o } " + "a." * 40_000])
def test_flat_texts_past_the_token_limit_are_refused_before_the_engine(text):
    with pytest.raises(RefusedQuery, match="more than 20000 tokens"):
        check_offline(text)


@pytest.mark.slow
def test_the_differential_fuzzer_finds_no_disagreement():
    result = sparqlfuzz.run(400, seed=14)
    assert result["counts"]["cases"] == 400
    assert result["counts"].get("passed, engine socket", 0) == 0
    assert result["disagreements"] == []


@pytest.mark.slow
def test_the_differential_fuzzer_finds_what_a_naive_guard_misses(monkeypatch):
    """The oracle works: a guard that only looks for the word SERVICE outside IRIs is caught."""
    def naive(text):
        bare = re.sub(r"<[^>\s]*>|\"[^\"]*\"|'[^']*'|#[^\n]*", " ", text)
        return bool(re.search(r"\bSERVICE\b", bare, re.I)), []

    monkeypatch.setattr(sparqlfuzz, "guard_view", naive)
    result = sparqlfuzz.run(400, seed=14)
    assert len(result["disagreements"]) > 0
