"""Tests of ftkit.ginza_baseline: person entities become the answer, and GiNZA finds well-known persons."""

import json
from types import SimpleNamespace

from conftest import NOBODY, SENTENCES

from ftkit.extraction_metrics import extraction_metrics
from ftkit.ginza_baseline import answer_of, ginza_answers, persons_of_doc


def test_person_entities_become_the_answer_in_order_each_once():
    entity = lambda text, label: SimpleNamespace(text=text, label_=label)
    doc = SimpleNamespace(ents=[entity("豊田章男", "Person"), entity("会長", "Position_Vocation"), entity("3人", "N_Person"),
                                entity("鈴木", "Person"), entity("豊田 章男", "Person"), entity("トヨタ自動車", "Company")])
    assert persons_of_doc(doc) == ["豊田章男", "鈴木"]
    assert json.loads(answer_of(persons_of_doc(doc))) == {"persons": [{"name": "豊田章男"}, {"name": "鈴木"}]}
    assert answer_of([]) == NOBODY


def test_ginza_finds_well_known_persons_and_nobody_where_there_is_none(ginza_nlp):
    answers = ginza_answers([text for text, _ in SENTENCES], ginza_nlp)
    assert [json.loads(a) for a in answers] == [json.loads(reference) for _, reference in SENTENCES]
    metrics = extraction_metrics(answers, [reference for _, reference in SENTENCES])
    assert metrics["name_set_f1"] == 1.0 and metrics["fp_rate_on_negative"] == 0.0 and metrics["schema_ok_rate"] == 1.0
