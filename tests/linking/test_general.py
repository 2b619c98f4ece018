"""The general linker: KB-independent features, the shipped scorer, saving, training, and alias mentions."""

import json

import numpy as np
import pytest

from elkit.doc import NIL, Span
from elkit.errors import ConfigError, ModelError
from elkit.kb import InMemoryKB
from elkit.kb.normalize import AliasNormalizer
from elkit.linking.alias_mentions import AliasMentions
from elkit.linking.builder import kb_labels
from elkit.linking.coreference import coreference_evidence
from elkit.linking.general import GeneralLinker
from elkit.linking.general_features import (
    GENERAL_FEATURES,
    EmbeddingCache,
    entity_text,
    general_inputs,
    mention_context,
    type_text,
)
from elkit.linking.general_model import GeneralScorer, load_scorer, save_scorer
from elkit.linking.mentions import find_mentions
from elkit.tokenize import Tokenizer
from elkit.training.general_linker import (
    GeneralTrainingSettings,
    LinkingCorpus,
    corpus_examples,
    fit_scorer,
    gold_ids,
    misspell,
)

COLUMN = {name: index for index, name in enumerate(GENERAL_FEATURES)}


class WordEncoder:
    """A deterministic bag-of-words encoder (hashed words, unit rows) that counts what it encodes."""

    dim = 64

    def __init__(self):
        self.calls = 0

    def encode(self, texts):
        self.calls += len(texts)
        output = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().replace(",", " ").replace(".", " ").split():
                output[row, sum(map(ord, word)) % self.dim] += 1.0
        norms = np.linalg.norm(output, axis=1, keepdims=True)
        return output / np.where(norms > 0, norms, 1.0)


def small_kb():
    kb = InMemoryKB()
    kb.add_entity("J1", "Jaguar Cars", "British car maker", types=("ORG",), popularity=70.0)
    kb.add_entity("J2", "jaguar", "wild cat of the rainforest", types=("ANIMAL",), popularity=50.0)
    kb.add_entity("B1", "Berlin", "capital of Germany", types=("LOC",), popularity=90.0)
    kb.add_entity("M1", "Angela Merkel", "German chancellor", types=("PER",), popularity=80.0)
    kb.add_alias("Jaguar", ["J1", "J2"], [0.6, 0.4])
    kb.add_alias("Berlin", ["B1"], [1.0])
    kb.add_alias("Angela Merkel", ["M1"], [1.0])
    kb.add_alias("Merkel", ["M1"], [1.0])
    return kb


def doc_with(text, spans):
    doc = Tokenizer()(text)
    found = []
    position = 0
    for mention, label, kb_id in spans:
        start = text.index(mention, position)
        position = start + len(mention)
        found.append(doc.char_span(start, start + len(mention), label=label, kb_id=kb_id))
    doc.ents = found
    return doc


def linker_with(kb, scorer=None, **settings):
    linker = GeneralLinker(**settings)
    linker.set_kb(kb)
    linker.set_encoder(WordEncoder())
    if scorer is not None:
        linker.set_scorer(scorer)
    return linker


def test_type_and_entity_texts():
    assert type_text("PER") == "person" and type_text("WORK_OF_ART") == "work of art"
    assert type_text("DiseaseOrSyndrome") == "disease or syndrome" and type_text("UNK") == ""
    assert entity_text("Paris", "capital of France", ("LOC",)) == "Paris: capital of France"
    assert entity_text("Paris", "", ("LOC", "UNK")) == "Paris (location)"
    doc = Tokenizer()("one two three four five six seven")
    assert mention_context(doc, 14, 18, 6) == "three four five"


def test_embedding_cache_encodes_each_text_once():
    encoder = WordEncoder()
    cache = EmbeddingCache(encoder)
    first = cache(["a b", "c", "a b", ""])
    second = cache(["c", "a b"])
    assert encoder.calls == 2
    assert np.allclose(first[0], second[1]) and not first[3].any()


def test_features_prefer_the_entity_whose_type_and_description_fit():
    import elkit.encoders

    kb = small_kb()
    doc = doc_with("The jaguar hunted in the rainforest near Berlin.",
                   [("jaguar", "wildlife", ""), ("Berlin", "city", "")])
    mentions = find_mentions([doc], labels_discard=(), overwrite=True, abbreviations=False)
    candidates = [tuple(kb.get_alias_candidates("Jaguar")), tuple(kb.get_alias_candidates("Berlin"))]
    embed = EmbeddingCache(elkit.encoders.TextEncoder())
    inputs = general_inputs([doc], mentions, candidates, [({}, False), ({}, False)], kb=kb, embed=embed,
                            normalizer=AliasNormalizer())
    jaguar = inputs[0]
    assert [candidate.entity_id for candidate in jaguar.candidates] == ["J1", "J2"]
    animal, company = jaguar.features[1], jaguar.features[0]
    assert animal[COLUMN["type_cosine"]] > company[COLUMN["type_cosine"]]  # "wildlife" means ANIMAL, not ORG
    assert animal[COLUMN["context_cosine"]] > company[COLUMN["context_cosine"]]
    assert animal[COLUMN["type_relative"]] == 0.0 and company[COLUMN["type_relative"]] < 0.0
    assert company[COLUMN["prior_top"]] == 1.0 and animal[COLUMN["prior_top"]] == 0.0


def test_coherence_equals_the_pairwise_reference():
    kb = small_kb()
    text = " ".join(["Jaguar met Merkel in Berlin."] * 34)
    doc = Tokenizer()(text)
    spans = []
    for start in range(0, len(text), len("Jaguar met Merkel in Berlin. ")):
        for word, label in (("Jaguar", "ORG"), ("Merkel", "PER"), ("Berlin", "LOC")):
            offset = text.index(word, start)
            spans.append(doc.char_span(offset, offset + len(word), label=label))
    doc.ents = spans
    assert len(spans) >= 100
    mentions = find_mentions([doc], labels_discard=(), overwrite=True, abbreviations=False)
    candidates = [tuple(kb.get_alias_candidates(mention.text)) for mention in mentions]
    embed = EmbeddingCache(WordEncoder())
    inputs = general_inputs([doc], mentions, candidates, [({}, False)] * len(mentions), kb=kb, embed=embed,
                            normalizer=AliasNormalizer())
    vectors = {entity_id: embed([entity_text(kb.get_entity(entity_id).name, kb.get_entity(entity_id).description,
                                             kb.get_entity(entity_id).types)])[0] for entity_id in ("J1", "J2", "B1",
                                                                                                    "M1")}

    def expected(found):
        weights = np.asarray([candidate.prior for candidate in found]) + 1e-3
        shares = weights / weights.sum()
        return sum(share * vectors[candidate.entity_id] for share, candidate in zip(shares, found, strict=True))

    for number in (0, 50, len(mentions) - 1):
        others = sum(expected(candidates[other]) for other in range(len(mentions)) if other != number)
        others = others / np.linalg.norm(others)
        reference = [float(vectors[candidate.entity_id] @ others) for candidate in candidates[number]]
        assert np.allclose(inputs[number].features[:, COLUMN["coherence_cosine"]], reference, atol=1e-4)


def test_shipped_scorer_links_pipe_equals_call_and_round_trips(tmp_path):
    kb = small_kb()
    linker = linker_with(kb)
    texts = [("Angela Merkel visited Berlin.", [("Angela Merkel", "person", ""), ("Berlin", "location", "")]),
             ("Zorblat Quux spoke.", [("Zorblat Quux", "person", "")])]
    called = [linker(doc_with(text, spans)) for text, spans in texts]
    piped = list(linker.pipe([doc_with(text, spans) for text, spans in texts], batch_size=1))
    assert [[(span.kb_id, span.link_score) for span in doc.ents] for doc in called] == \
        [[(span.kb_id, span.link_score) for span in doc.ents] for doc in piped]
    assert [span.kb_id for span in called[0].ents] == ["M1", "B1"]
    assert called[1].ents[0].kb_id == NIL  # no candidate at all
    linker.to_disk(tmp_path / "linker")
    loaded = GeneralLinker().from_disk(tmp_path / "linker")
    loaded.set_encoder(WordEncoder())
    again = loaded(doc_with(*texts[0]))
    assert [(span.kb_id, span.link_score) for span in again.ents] == \
        [(span.kb_id, span.link_score) for span in called[0].ents]
    from_bytes = GeneralLinker().from_bytes(linker.to_bytes())
    from_bytes.set_kb(kb)
    from_bytes.set_encoder(WordEncoder())
    assert [span.kb_id for span in from_bytes(doc_with(*texts[0])).ents] == ["M1", "B1"]


def test_a_scorer_for_other_features_is_refused(tmp_path):
    save_scorer(GeneralScorer(4), tmp_path / "scorer")
    meta = (tmp_path / "scorer" / "model.json").read_text().replace('"prior"', '"a_feature_we_lack"', 1)
    (tmp_path / "scorer" / "model.json").write_text(meta)
    with pytest.raises(ModelError, match="other features"):
        load_scorer(tmp_path / "scorer")
    with pytest.raises(ModelError, match="not a saved general linker"):
        load_scorer(tmp_path / "nothing")


def test_training_examples_teach_nil_and_the_scorer_learns():
    kb = small_kb()
    docs = [doc_with("The jaguar hunted in the rainforest.", [("jaguar", "animal", "J2")]),
            doc_with("Jaguar sold British cars.", [("Jaguar", "organisation", "J1")]),
            doc_with("Quux met people.", [("Quux", "person", NIL)])] * 8
    linker = linker_with(kb, GeneralScorer(4))
    examples = corpus_examples(linker, LinkingCorpus("small", docs, kb), nil_rate=0.0, seed=0)
    assert [example.gold for example in examples[:3]] == [(1,), (0,), ()]
    all_nil = corpus_examples(linker, LinkingCorpus("small", docs, kb), nil_rate=1.0, seed=0)
    assert all(example.gold == () for example in all_nil)
    assert all("J2" not in {c.entity_id for c in example.item.candidates} for example in all_nil[:1])
    _, report = fit_scorer(examples, examples[:6], GeneralTrainingSettings(nil_keep=1.0))
    assert report.held_out_accuracy == 1.0 and report.train_examples == 24 and 1 <= report.best_epoch <= 40
    _, fewer = fit_scorer(examples, examples[:6], GeneralTrainingSettings(nil_keep=0.25, epochs=2))
    assert 16 <= fewer.train_examples < 24  # the 16 linked examples and about a quarter of the 8 NIL ones
    assert gold_ids("J1|J2", kb) == {"J1", "J2"} and gold_ids(NIL, kb) == set()


def test_alias_mentions_take_the_recognizers_label_only():
    kb = small_kb()
    component = AliasMentions()
    component.set_kb(kb)
    doc = Tokenizer()("Merkel met a jaguar in Berlin.")
    doc.spans["zeroshot"] = [Span(doc, 0, 1, "person", score=0.3), Span(doc, 0, 1, "location", score=0.05),
                             Span(doc, 5, 6, "city", score=0.01)]
    doc.ents = [Span(doc, 3, 4, "animal", score=0.9)]
    component(doc)
    assert [(span.text, span.label) for span in doc.ents] == [("Merkel", "person"), ("jaguar", "animal")]
    with pytest.raises(ConfigError, match="no KB"):
        AliasMentions()(doc)


def test_a_kb_name_over_several_entities_replaces_them():
    kb = InMemoryKB()
    kb.add_entity("PT", "Paris, Texas", "city in Texas", types=("LOC",))
    kb.add_alias("Paris, Texas", ["PT"], [1.0])
    component = AliasMentions()
    component.set_kb(kb)
    doc = Tokenizer()("She drove to Paris, Texas, today.")
    doc.ents = [Span(doc, 3, 4, "location", score=0.9), Span(doc, 5, 6, "location", score=0.9)]
    doc.spans["zeroshot"] = [Span(doc, 3, 6, "location", score=0.2)]
    component(doc)
    assert [(span.text, span.label) for span in doc.ents] == [("Paris, Texas", "location")]


def test_misspell_changes_one_letter_and_keeps_short_words():
    import random

    rng = random.Random(0)
    changed = [misspell("Angela Merkel", rng) for _ in range(50)]
    assert sum(text != "Angela Merkel" for text in changed) >= 45
    assert all(abs(len(text) - len("Angela Merkel")) <= 1 and text[0] == "A" for text in changed)
    assert misspell("UN", rng) == "UN"


def test_kb_labels_read_types_as_words(tmp_path):
    from elkit.linking.builder import create_simple

    assert kb_labels(small_kb()) == ["animal", "location", "organisation", "person"]
    with pytest.raises(ConfigError, match="labels is empty"):
        create_simple(kb=small_kb(), labels=[], cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="no entity types"):
        kb_labels(InMemoryKB())


def test_coreference_adds_the_long_form_entity():
    kb = small_kb()
    doc = doc_with("Angela Merkel spoke. Later Merkel left.",
                   [("Angela Merkel", "person", ""), ("Merkel", "person", "")])
    mentions = find_mentions([doc], labels_discard=(), overwrite=True, abbreviations=False)
    candidates, evidence = coreference_evidence(mentions, [tuple(kb.get_alias_candidates("Angela Merkel")), ()],
                                                AliasNormalizer())
    assert [candidate.entity_id for candidate in candidates[1]] == ["M1"] and evidence[1][1]


def test_features_never_seen_in_training_are_left_out(tmp_path):
    from elkit.training.general_linker import unseen_features

    kb = small_kb()
    docs = [doc_with("The jaguar hunted in the rainforest.", [("jaguar", "animal", "J2")]),
            doc_with("Jaguar sold British cars.", [("Jaguar", "organisation", "J1")])] * 6
    linker = linker_with(kb, GeneralScorer(4))
    examples = corpus_examples(linker, LinkingCorpus("small", docs, kb), nil_rate=0.0, seed=0)
    # a KB without popularity: every popularity feature is 0 in training
    for example in examples:
        for name in ("popularity_share", "log_popularity_ratio", "popularity_top", "matched_popularity_share",
                     "matched_popularity_top"):
            example.item.features[:, COLUMN[name]] = 0.0
    unused = unseen_features(examples)
    assert "popularity_share" in unused and "popularity_top" in unused and "nil.bias" not in unused
    scorer, _ = fit_scorer(examples, examples[:4], GeneralTrainingSettings(nil_keep=1.0, epochs=3))
    assert set(unused) == set(scorer.unused_features)
    # where the feature does vary (another KB), it changes nothing
    item = examples[0].item
    varied = item.features.copy()
    varied[:, COLUMN["popularity_share"]] = [0.9, 0.1][: len(varied)]
    varied[:, COLUMN["popularity_top"]] = [1.0, 0.0][: len(varied)]
    same = scorer.probabilities([item])[0]
    other = scorer.probabilities([type(item)(item.mention, item.candidates, varied, item.nil)])[0]
    assert np.allclose(same, other)
    save_scorer(scorer, tmp_path / "scorer")
    loaded, meta = load_scorer(tmp_path / "scorer")
    assert meta["unused_features"] == scorer.unused_features == loaded.unused_features
    assert np.allclose(loaded.probabilities([item])[0], same)
    document = json.loads((tmp_path / "scorer" / "model.json").read_text())
    document["unused_features"].append("no_such_feature")
    (tmp_path / "scorer" / "model.json").write_text(json.dumps(document))
    with pytest.raises(ModelError, match="no_such_feature"):
        load_scorer(tmp_path / "scorer")
