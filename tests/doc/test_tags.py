import pytest
from hypothesis import given
from hypothesis import strategies as st

from elkit.doc import Doc
from elkit.doc.tags import (
    TagError,
    biluo_to_iob,
    biluo_to_spans,
    entities_to_tags,
    iob1_to_iob2,
    iob2_to_iob1,
    iob_to_biluo,
    offsets_to_biluo,
    spans_to_biluo,
    tags_to_entities,
)
from elkit.errors import AlignmentError


def test_iob2_entities():
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC"]
    assert tags_to_entities(tags, "iob2") == [(0, 2, "PER"), (3, 4, "LOC"), (4, 6, "LOC")]


def test_iob2_rejects_inside_after_outside():
    with pytest.raises(TagError, match="does not continue") as error:
        tags_to_entities(["O", "I-PER"], "iob2")
    assert error.value.position == 1
    with pytest.raises(TagError):
        tags_to_entities(["B-PER", "I-LOC"], "iob2")


def test_iob1_entities():
    tags = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"]
    assert tags_to_entities(tags, "iob1") == [(0, 2, "PER"), (3, 4, "LOC"), (4, 5, "LOC"), (5, 6, "ORG")]


def test_biluo_entities_and_errors():
    tags = ["B-PER", "I-PER", "L-PER", "U-LOC", "O", "S-ORG", "B-X", "E-X"]
    assert tags_to_entities(tags, "biluo") == [(0, 3, "PER"), (3, 4, "LOC"), (5, 6, "ORG"), (6, 8, "X")]
    with pytest.raises(TagError, match="not closed"):
        tags_to_entities(["B-PER", "O"], "biluo")
    with pytest.raises(TagError, match="not closed with L-"):
        tags_to_entities(["B-PER"], "biluo")
    with pytest.raises(TagError, match="does not continue"):
        tags_to_entities(["O", "L-PER"], "biluo")


def test_malformed_tags():
    for bad in ["PER", "X-PER", "B-", "B_PER"]:
        with pytest.raises(TagError, match="not valid"):
            tags_to_entities([bad], "iob2")
    with pytest.raises(TagError):
        tags_to_entities(["U-PER"], "iob2")


def test_conversions():
    iob1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC"]
    iob2 = ["B-PER", "I-PER", "B-PER", "O", "B-LOC"]
    biluo = ["B-PER", "L-PER", "U-PER", "O", "U-LOC"]
    assert iob1_to_iob2(iob1) == iob2
    assert iob2_to_iob1(iob2) == iob1
    assert iob_to_biluo(iob2) == biluo
    assert iob_to_biluo(iob1, "iob1") == biluo
    assert biluo_to_iob(biluo) == iob2
    assert biluo_to_iob(biluo, "iob1") == iob1


def test_doc_helpers():
    doc = Doc.from_words(["Ada", "Lovelace", "lived", "in", "London"])
    assert offsets_to_biluo(doc, [(0, 12, "PER"), (22, 28, "LOC")]) == ["B-PER", "L-PER", "O", "O", "U-LOC"]
    with pytest.raises(AlignmentError):
        offsets_to_biluo(doc, [(0, 5, "PER")])
    spans = biluo_to_spans(doc, ["B-PER", "L-PER", "O", "O", "U-LOC"])
    assert [(span.text, span.label) for span in spans] == [("Ada Lovelace", "PER"), ("London", "LOC")]
    doc.ents = spans
    assert spans_to_biluo(doc) == ["B-PER", "L-PER", "O", "O", "U-LOC"]


labels = st.sampled_from(["PER", "LOC", "ORG"])


@st.composite
def entity_layouts(draw):
    length = draw(st.integers(min_value=0, max_value=30))
    entities = []
    position = 0
    while position < length:
        if draw(st.booleans()):
            end = draw(st.integers(min_value=position + 1, max_value=min(length, position + 4)))
            entities.append((position, end, draw(labels)))
            position = end
        else:
            position += 1
    return length, entities


@given(entity_layouts(), st.sampled_from(["iob1", "iob2", "biluo"]))
def test_tags_round_trip_any_layout(layout, scheme):
    length, entities = layout
    tags = entities_to_tags(length, entities, scheme)
    assert tags_to_entities(tags, scheme) == entities


@given(entity_layouts())
def test_biluo_offsets_round_trip(layout):
    length, entities = layout
    doc = Doc.from_words([f"w{index}" for index in range(length)])
    offsets = [(doc[start].idx, doc[end - 1].end_char, label) for start, end, label in entities]
    tags = offsets_to_biluo(doc, offsets)
    spans = biluo_to_spans(doc, tags)
    assert [(span.start_char, span.end_char, span.label) for span in spans] == offsets
