"""Generation metrics for structured extraction: does the answer parse, has the right shape, name the right people.

Definitions (also in the README):
  json_parse_rate              share of answers that parse as JSON
  schema_ok_rate               share of answers shaped {"persons": [{"name": str, "address": str (optional)}]}
  person_presence_f1           F1 of "the text mentions at least one person", as a binary classification
  name_set_f1 / address_set_f1 micro F1 over the sets of names / addresses of each sample
  name_exact_match_rate        share of samples whose name set equals the reference's (address_... likewise)
  all_fields_exact_match_rate  share of samples whose set of (name, address) pairs equals the reference's
  fp_rate_on_negative          share of samples without any person where the model names one
Strings are compared after Unicode NFKC normalisation with all whitespace removed. An answer that does not
parse counts as naming nobody. When a reference is not JSON the sample is scored by exact match only.
"""

import json
import re
import unicodedata

WHITESPACE = re.compile(r"\s+")


def normalise(text) -> str:
    return WHITESPACE.sub("", unicodedata.normalize("NFKC", str(text)))


def parse_json(text: str):
    """The JSON value of an answer, or None. A ```json fence around it is tolerated."""
    text = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, flags=re.S)
    if fenced:
        text = fenced.group(1)
    try:
        return json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return None


def schema_ok(value) -> bool:
    if not isinstance(value, dict) or set(value) != {"persons"} or not isinstance(value["persons"], list):
        return False
    for person in value["persons"]:
        if not isinstance(person, dict) or not isinstance(person.get("name"), str) or not person["name"].strip():
            return False
        if not set(person) <= {"name", "address"}:
            return False
        if person.get("address") is not None and not isinstance(person["address"], str):
            return False
    return True


def persons_of(value) -> list:
    """(name, address) pairs of a parsed answer, normalised; tolerant of partly wrong shapes."""
    if not isinstance(value, dict) or not isinstance(value.get("persons"), list):
        return []
    pairs = []
    for person in value["persons"]:
        if isinstance(person, dict) and isinstance(person.get("name"), str) and person["name"].strip():
            address = person.get("address")
            pairs.append((normalise(person["name"]),
                          normalise(address) if isinstance(address, str) and address.strip() else None))
    return pairs


class Counts:
    """True positives, false positives and false negatives, for a micro F1."""

    def __init__(self):
        self.tp = self.fp = self.fn = 0

    def add(self, predicted: set, reference: set) -> None:
        self.tp += len(predicted & reference)
        self.fp += len(predicted - reference)
        self.fn += len(reference - predicted)

    def f1(self) -> float:
        if self.tp == 0:
            return 1.0 if self.fp == 0 and self.fn == 0 else 0.0
        precision, recall = self.tp / (self.tp + self.fp), self.tp / (self.tp + self.fn)
        return 2 * precision * recall / (precision + recall)


def extraction_metrics(predictions: list[str], references: list[str]) -> dict:
    """All metrics above for parallel lists of model answers and reference answers."""
    assert len(predictions) == len(references)
    names, addresses, presence = Counts(), Counts(), Counts()
    parsed = shaped = all_exact = name_exact = address_exact = 0
    negatives = invented = 0
    json_scored = not_json_references = exact_matches = 0
    for prediction, reference in zip(predictions, references):
        reference_value = parse_json(reference)
        if reference_value is None:
            not_json_references += 1
            exact_matches += normalise(prediction) == normalise(reference)
            continue
        json_scored += 1
        value = parse_json(prediction)
        parsed += value is not None
        shaped += value is not None and schema_ok(value)
        predicted_pairs, reference_pairs = set(persons_of(value)), set(persons_of(reference_value))
        predicted_names, reference_names = {n for n, _ in predicted_pairs}, {n for n, _ in reference_pairs}
        predicted_addresses = {a for _, a in predicted_pairs if a}
        reference_addresses = {a for _, a in reference_pairs if a}
        names.add(predicted_names, reference_names)
        addresses.add(predicted_addresses, reference_addresses)
        presence.add({"person"} if predicted_names else set(), {"person"} if reference_names else set())
        all_exact += predicted_pairs == reference_pairs
        name_exact += predicted_names == reference_names
        address_exact += predicted_addresses == reference_addresses
        if not reference_names:
            negatives += 1
            invented += bool(predicted_names)
    rate = lambda count: count / json_scored if json_scored else None
    metrics = {
        "samples": len(predictions),
        "json_parse_rate": rate(parsed),
        "schema_ok_rate": rate(shaped),
        "person_presence_f1": presence.f1() if json_scored else None,
        "name_set_f1": names.f1() if json_scored else None,
        "address_set_f1": addresses.f1() if json_scored else None,
        "all_fields_exact_match_rate": rate(all_exact),
        "name_exact_match_rate": rate(name_exact),
        "address_exact_match_rate": rate(address_exact),
        "fp_rate_on_negative": invented / negatives if negatives else None,
        "negative_samples": negatives,
    }
    if not_json_references:
        metrics["references_not_json"] = not_json_references
        metrics["exact_match_rate_on_non_json"] = exact_matches / not_json_references
    return metrics
