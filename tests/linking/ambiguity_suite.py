# ruff: noqa: E501  (a data table: one entity a line reads better than wrapped tuples)
"""A small KB of ambiguous names with descriptions, and sentences that use them, misspell them or name things
the KB lacks: the suite the no-training pipeline (`create_simple`) is held to."""

from __future__ import annotations

import json
from pathlib import Path

from elkit.doc import NIL

ENTITIES = [
    ("jaguar_cars", "Jaguar Cars", "British maker of luxury cars and electric vehicles", "ORG", ["Jaguar", "Jaguar Land Rover"], 0.8),
    ("jaguar_animal", "jaguar", "large wild cat of the Americas, a predator of the rainforest", "ANIMAL", ["jaguar", "Panthera onca"], 0.6),
    ("apple_inc", "Apple Inc.", "American technology company that makes the iPhone and Mac computers", "ORG", ["Apple"], 0.95),
    ("apple_fruit", "apple", "edible round fruit of the apple tree", "FOOD", ["apple", "apples"], 0.6),
    ("paris_france", "Paris", "capital and largest city of France", "LOC", ["Paris, France"], 0.95),
    ("paris_texas", "Paris, Texas", "small city in Lamar County, Texas, United States", "LOC", ["Paris"], 0.2),
    ("paris_hilton", "Paris Hilton", "American media personality, hotel heiress and DJ", "PER", ["Hilton"], 0.6),
    ("paris_film", "Paris, Texas (film)", "1984 road movie directed by Wim Wenders", "WORK_OF_ART", ["Paris, Texas"], 0.3),
    ("mj_player", "Michael Jordan", "American basketball player who won six NBA championships with the Chicago Bulls", "PER", ["Jordan", "MJ"], 0.9),
    ("mj_scientist", "Michael I. Jordan", "American computer scientist, professor of machine learning and statistics at Berkeley", "PER", ["Michael Jordan", "Jordan"], 0.4),
    ("jordan_country", "Jordan", "country in the Middle East whose capital is Amman", "LOC", ["Hashemite Kingdom of Jordan"], 0.7),
    ("amazon_company", "Amazon", "American online retailer and cloud computing company", "ORG", ["Amazon.com"], 0.9),
    ("amazon_river", "Amazon River", "largest river of South America, flowing through the rainforest of Brazil", "LOC", ["Amazon"], 0.6),
    ("mercury_planet", "Mercury", "smallest planet of the Solar System and the closest to the Sun", "PLANET", [], 0.6),
    ("mercury_element", "mercury", "chemical element, a toxic liquid metal", "CHEMICAL", ["quicksilver"], 0.5),
    ("freddie_mercury", "Freddie Mercury", "British singer, lead vocalist of the rock band Queen", "PER", ["Mercury"], 0.6),
    ("washington_state", "Washington", "state in the Pacific Northwest of the United States", "LOC", ["Washington State"], 0.6),
    ("washington_dc", "Washington, D.C.", "capital city of the United States", "LOC", ["Washington", "Washington, DC"], 0.9),
    ("george_washington", "George Washington", "first president of the United States", "PER", ["Washington"], 0.8),
    ("python_language", "Python", "high-level programming language", "SOFTWARE", ["Python programming language"], 0.7),
    ("python_snake", "python", "large nonvenomous snake that kills its prey by constriction", "ANIMAL", ["pythons"], 0.4),
    ("cambridge_uk", "Cambridge", "university city in the east of England", "LOC", [], 0.7),
    ("cambridge_ma", "Cambridge, Massachusetts", "city near Boston, home of Harvard University and MIT", "LOC", ["Cambridge"], 0.5),
    ("ada_lovelace", "Ada Lovelace", "English mathematician who wrote the first algorithm for Babbage's Analytical Engine", "PER", ["Lovelace"], 0.8),
    ("charles_babbage", "Charles Babbage", "English mathematician who designed mechanical computers", "PER", ["Babbage"], 0.7),
    ("tesla_company", "Tesla, Inc.", "American electric car maker led by Elon Musk", "ORG", ["Tesla"], 0.9),
    ("nikola_tesla", "Nikola Tesla", "Serbian-American inventor of alternating current systems", "PER", ["Tesla"], 0.7),
    ("elon_musk", "Elon Musk", "businessman who leads Tesla and SpaceX", "PER", ["Musk"], 0.9),
    ("berlin", "Berlin", "capital and largest city of Germany", "LOC", [], 0.9),
    ("angela_merkel", "Angela Merkel", "German politician, Chancellor of Germany from 2005 to 2021", "PER", ["Merkel"], 0.8),
    ("queen_band", "Queen", "British rock band formed in London in 1970", "ORG", [], 0.7),
]

SENTENCES: list[tuple[str, list[tuple[str, str]]]] = [
    # ambiguous names, context decides
    ("Jaguar unveiled a new electric car at the Geneva motor show.", [("Jaguar", "jaguar_cars")]),
    ("A jaguar was spotted hunting deer in the Brazilian rainforest.", [("jaguar", "jaguar_animal")]),
    ("The jaguar is the largest cat in the Americas.", [("jaguar", "jaguar_animal")]),
    ("Jaguar Land Rover cut jobs at its plant in Coventry.", [("Jaguar Land Rover", "jaguar_cars"), ("Coventry", NIL)]),
    ("Apple reported record iPhone sales this quarter.", [("Apple", "apple_inc")]),
    ("Paris Hilton launched a new perfume in Los Angeles.", [("Paris Hilton", "paris_hilton"), ("Los Angeles", NIL)]),
    ("The Eiffel Tower is the most visited monument in Paris.", [("Eiffel Tower", NIL), ("Paris", "paris_france")]),
    ("Paris, Texas is a small town in Lamar County.", [("Paris, Texas", "paris_texas")]),
    ("Wim Wenders won the Palme d'Or for the film Paris, Texas in 1984.",
     [("Wim Wenders", NIL), ("Paris, Texas", "paris_film")]),
    ("Michael Jordan scored 45 points for the Chicago Bulls.", [("Michael Jordan", "mj_player"), ("Chicago Bulls", NIL)]),
    ("Michael Jordan published a paper on Bayesian machine learning and statistics.",
     [("Michael Jordan", "mj_scientist")]),
    ("King Abdullah of Jordan met officials in Amman.", [("Jordan", "jordan_country"), ("Amman", NIL)]),
    ("Amazon opened a new warehouse to speed up online deliveries.", [("Amazon", "amazon_company")]),
    ("Illegal logging threatens the rainforest along the Amazon in Brazil.",
     [("Amazon", "amazon_river"), ("Brazil", NIL)]),
    ("Mercury is the closest planet to the Sun.", [("Mercury", "mercury_planet")]),
    ("Freddie Mercury sang lead vocals for Queen.", [("Freddie Mercury", "freddie_mercury"), ("Queen", "queen_band")]),
    ("George Washington led the Continental Army.", [("George Washington", "george_washington")]),
    ("The senator flew to Washington, D.C. for the vote.", [("Washington, D.C.", "washington_dc")]),
    ("Seattle is the largest city in Washington State.", [("Seattle", NIL), ("Washington State", "washington_state")]),
    ("Guido van Rossum created Python in 1991.", [("Guido van Rossum", NIL), ("Python", "python_language")]),
    ("Ada Lovelace wrote notes on the engine.", [("Ada Lovelace", "ada_lovelace")]),
    ("Charles Babbage designed the difference engine.", [("Charles Babbage", "charles_babbage")]),
    ("Tesla recalled thousands of electric cars last year.", [("Tesla", "tesla_company")]),
    ("Nikola Tesla demonstrated alternating current in New York.", [("Nikola Tesla", "nikola_tesla"), ("New York", NIL)]),
    ("Elon Musk said Tesla would build a factory near Berlin.",
     [("Elon Musk", "elon_musk"), ("Tesla", "tesla_company"), ("Berlin", "berlin")]),
    ("Angela Merkel spoke in Berlin on Monday.", [("Angela Merkel", "angela_merkel"), ("Berlin", "berlin")]),
    ("Students at Cambridge, Massachusetts often visit Boston.",
     [("Cambridge, Massachusetts", "cambridge_ma"), ("Boston", NIL)]),
    ("Cambridge is a university city north of London in England.", [("Cambridge", "cambridge_uk"), ("London", NIL)]),
    # misspelt names
    ("Angela Merkle visited Paris last week.", [("Angela Merkle", "angela_merkel"), ("Paris", "paris_france")]),
    ("Ada Lovelance is remembered as the first programmer.", [("Ada Lovelance", "ada_lovelace")]),
    ("Micheal Jordan won his sixth NBA title with the Bulls.", [("Micheal Jordan", "mj_player")]),
    ("Charles Babage built a model of his calculating machine.", [("Charles Babage", "charles_babbage")]),
    ("Freddy Mercury wrote Bohemian Rhapsody.", [("Freddy Mercury", "freddie_mercury")]),
    # names the KB lacks
    ("Barack Obama visited Berlin in 2013.", [("Barack Obama", NIL), ("Berlin", "berlin")]),
    ("Serena Williams won the match in straight sets.", [("Serena Williams", NIL)]),
    ("Toyota announced a hybrid version of its best-selling car.", [("Toyota", NIL)]),
    ("The Danube flows through Vienna and Budapest.", [("Danube", NIL), ("Vienna", NIL), ("Budapest", NIL)]),
    ("Marie Curie discovered polonium and radium.", [("Marie Curie", NIL)]),
    ("Microsoft bought a gaming company for billions of dollars.", [("Microsoft", NIL)]),
    ("Jeff Bezos founded Amazon in Seattle.", [("Jeff Bezos", NIL), ("Amazon", "amazon_company"), ("Seattle", NIL)]),
    # short forms after the full name
    ("Michael Jordan retired in 2003. Jordan later bought the Charlotte Hornets.",
     [("Michael Jordan", "mj_player"), ("Jordan", "mj_player"), ("Charlotte Hornets", NIL)]),
    ("Freddie Mercury was born in Zanzibar. Mercury died in 1991.",
     [("Freddie Mercury", "freddie_mercury"), ("Zanzibar", NIL), ("Mercury", "freddie_mercury")]),
    ("Lovelace translated an article by Luigi Menabrea.", [("Lovelace", "ada_lovelace"), ("Luigi Menabrea", NIL)]),
    ("Merkel and Musk discussed the new factory.", [("Merkel", "angela_merkel"), ("Musk", "elon_musk")]),
]


def write_entities(path: Path) -> Path:
    """Write the suite's KB as a GLiNKER-style entities.jsonl."""
    lines = [json.dumps({"entity_id": entity_id, "label": name, "description": description, "entity_type": kind,
                         "aliases": aliases, "popularity": popularity})
             for entity_id, name, description, kind, aliases, popularity in ENTITIES]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def score_suite(nlp) -> dict[str, object]:
    """Links right, missing names NIL, and the wrong links with their probabilities."""
    linked_right = linked_total = nil_right = nil_total = 0
    wrong: list[tuple[str, str, str, float]] = []
    for text, expected in SENTENCES:
        doc = nlp(text)
        by_text: dict[str, list] = {}
        for span in doc.ents:
            by_text.setdefault(span.text, []).append(span)
        for mention, answer in expected:
            found = by_text.get(mention, [])
            span = found.pop(0) if found else None
            if answer == NIL:
                nil_total += 1
                nil_right += span is None or span.kb_id in ("", NIL)
                if span is not None and span.kb_id not in ("", NIL):
                    wrong.append((text, mention, span.kb_id, float(span.link_score or 0.0)))
            else:
                linked_total += 1
                linked_right += span is not None and span.kb_id == answer
                if span is not None and span.kb_id not in ("", NIL, answer):
                    wrong.append((text, mention, span.kb_id, float(span.link_score or 0.0)))
    return {"link_accuracy": linked_right / linked_total, "nil_rate": nil_right / nil_total, "wrong": wrong,
            "linked_total": linked_total, "nil_total": nil_total}
