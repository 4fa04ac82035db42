"""The off-the-shelf baseline of the extraction task: GiNZA's spaCy NER pipeline (`ja_ginza`), no fine-tuning.

What a user would pick instead of training an adapter: run the pipeline on each text and keep its person
entities, in order of first appearance, each once, as the task's answer `{"persons": [{"name": ...}]}` (GiNZA
finds no addresses, so none are given). The answers are scored by `extraction_metrics` like a model's.

Install: pip install ja-ginza==5.3.0 ginza==5.3.0 (spaCy 3.8, SudachiPy 0.6 and SudachiDict-core come with it;
the model is inside the package, so it loads offline).
"""

import json

from .errors import KitError, first_line
from .extraction_metrics import normalise

INSTALL_HINT = "pip install ja-ginza==5.3.0 ginza==5.3.0"
MODEL_NAME = "ja_ginza"

# ja_ginza 5.3.0's NER labels (`nlp.get_pipe("ner").labels`, 189 of them) are the types of Sekine's Extended
# Named Entity hierarchy (ENE), trained on GSK2014-A: a person's name is `Person` (安倍晋三首相 gives 安倍晋三
# Person + 首相 Position_Vocation). Left out, as the task's guideline leaves them out: `N_Person` (a count, 3人),
# `Position_Vocation` (首相, 社長, 会社員), `Title_Other` (さん), `Family` (徳川家), `Character`, `God`.
PERSON_LABELS = frozenset({"Person"})


def ginza_missing() -> str | None:
    """Why the GiNZA pipeline cannot be used (one line), or None when `ja_ginza` and spaCy import."""
    try:
        import ja_ginza  # noqa: F401  (imports spaCy too)
        import spacy  # noqa: F401
    except ImportError as error:
        return first_line(error)
    return None


def load_ginza():
    """The `ja_ginza` pipeline; a one-line KitError naming the install command when it is not installed."""
    missing = ginza_missing()
    if missing:
        raise KitError(f"the ginza column needs the ja_ginza pipeline ({missing}); install it with: {INSTALL_HINT}")
    import spacy

    try:
        return spacy.load(MODEL_NAME)
    except (OSError, ImportError) as error:
        raise KitError(f"could not load {MODEL_NAME} ({first_line(error)}); "
                       f"reinstall it with: {INSTALL_HINT}") from None


def persons_of_doc(doc) -> list[str]:
    """Names of the person entities of a parsed text, in order of first appearance, each once."""
    names, seen = [], set()
    for entity in doc.ents:
        name = entity.text.strip()
        if entity.label_ in PERSON_LABELS and name and normalise(name) not in seen:
            seen.add(normalise(name))
            names.append(name)
    return names


def answer_of(names: list[str]) -> str:
    """The task's answer for a list of names, as the fine-tuned model writes it."""
    return json.dumps({"persons": [{"name": name} for name in names]}, ensure_ascii=False)


def ginza_answers(texts: list[str], nlp=None, batch_size: int = 32) -> list[str]:
    """The task's JSON answer for each text, from GiNZA's person entities."""
    nlp = nlp or load_ginza()
    return [answer_of(persons_of_doc(doc)) for doc in nlp.pipe(texts, batch_size=batch_size)]
