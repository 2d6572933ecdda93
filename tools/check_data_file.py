"""Quick structural check of curated Turtle files, for data curators.

Usage: python tools/check_data_file.py FILE.ttl [FILE.ttl ...]
Parses each file, and reports ms: terms used but not declared in the ontology
files, rules missing required properties, and sources missing url/date/confidence.
"""
import sys
from pathlib import Path

import rdflib
from rdflib import RDF, URIRef

ROOT = Path(__file__).resolve().parent.parent / "ontology"
MS = "https://w3id.org/medspa-graph/ontology#"
ms = rdflib.Namespace(MS)
PROV = rdflib.Namespace("http://www.w3.org/ns/prov#")
SCHEMA = rdflib.Namespace("https://schema.org/")
DCT = rdflib.Namespace("http://purl.org/dc/terms/")

vocab = rdflib.Graph()
for f in [ROOT / "medspa.ttl", *sorted((ROOT / "data").glob("*.ttl"))]:
    vocab.parse(f)
declared = {s for s in vocab.subjects(RDF.type, None) if str(s).startswith(MS)}

all_g = rdflib.Graph()
for f in sorted((ROOT / "data").rglob("*.ttl")):
    all_g.parse(f)
sources = set(all_g.subjects(RDF.type, ms.Source))
juris = set(all_g.subjects(RDF.type, ms.Jurisdiction))

bad = 0
for name in sys.argv[1:]:
    g = rdflib.Graph()
    try:
        g.parse(name)
    except Exception as e:  # noqa: BLE001
        print(f"{name}: PARSE ERROR {e}")
        bad += 1
        continue
    used = {t for tr in g for t in tr if isinstance(t, URIRef) and str(t).startswith(MS)}
    for t in sorted(used - declared):
        print(f"{name}: undeclared term {t}")
        bad += 1
    for r in g.subjects(RDF.type, ms.ScopeRule):
        for p in (ms.role, ms.procedure, ms.jurisdiction, ms.permission, ms.supervision, rdflib.RDFS.label):
            if g.value(r, p) is None:
                print(f"{name}: rule {r} lacks {p}")
                bad += 1
        if not list(g.objects(r, PROV.wasDerivedFrom)):
            print(f"{name}: rule {r} has no source")
            bad += 1
        for s in g.objects(r, PROV.wasDerivedFrom):
            if s not in sources:
                print(f"{name}: rule {r} cites undefined source {s}")
                bad += 1
        j = g.value(r, ms.jurisdiction)
        if j is not None and j not in juris:
            print(f"{name}: rule {r} names undefined jurisdiction {j}")
            bad += 1
        perm, sup = g.value(r, ms.permission), g.value(r, ms.supervision)
        sups = list(g.objects(r, ms.supervisor))
        if (perm == ms.NotPermitted) != (sup == ms.SupervisionNotPermitted):
            print(f"{name}: rule {r}: NotPermitted goes with SupervisionNotPermitted and only with it")
            bad += 1
        if sup in (ms.Independent, ms.SupervisionNotPermitted) and sups:
            print(f"{name}: rule {r}: {sup} takes no ms:supervisor")
            bad += 1
        if sup not in (ms.Independent, ms.SupervisionNotPermitted, None) and not sups:
            print(f"{name}: rule {r}: supervised level needs at least one ms:supervisor")
            bad += 1
        if perm == ms.Conditional and g.value(r, ms.conditions) is None:
            print(f"{name}: rule {r}: conditional rule needs ms:conditions")
            bad += 1
    for s in g.subjects(RDF.type, ms.Source):
        for p in (SCHEMA.url, ms.sourceDate, ms.confidence, DCT.title):
            if g.value(s, p) is None:
                print(f"{name}: source {s} lacks {p}")
                bad += 1
    n = len(list(g.subjects(RDF.type, ms.ScopeRule)))
    print(f"{name}: {len(g)} triples, {n} scope rules")
print("OK" if not bad else f"{bad} problems")
