"""Normalisation of completion answers: one module for the live path and the backfill.

Field kinds come from the step manifest: only ``choice``/``multi``/``bool`` answers are counted.
"""
from onboarding.manifest import CATEGORICAL_KINDS, STEPS, UnknownStep, canonical_step_key, snake_key


def canonical_answers(answers: dict) -> dict:
    """Return answers keyed by manifest step keys and snake_case fields, in manifest order.

    Steps or fields the manifest does not know are dropped: they were never valid answers
    (the upgrade registry turns older shapes into the current one before this runs).
    """
    by_step = {}
    for raw_step, fields in (answers or {}).items():
        try:
            step = canonical_step_key(raw_step)
        except UnknownStep:
            continue
        by_step[step] = {snake_key(name): value for name, value in (fields or {}).items()}
    ordered = {}
    for step in STEPS:
        if step.key in by_step:
            ordered[step.key] = {name: by_step[step.key][name] for name in step.field_names if name in by_step[step.key]}
    return ordered


def flatten_answers(answers: dict) -> list[dict]:
    """Return ``{"step", "question", "value"}`` rows: one per scalar, one per item of a list."""
    rows = []
    for step, fields in answers.items():
        for question, value in fields.items():
            values = value if isinstance(value, list) else [value]
            rows.extend({"step": step, "question": question, "value": item} for item in values if item != "")
    return rows


def counted_answers(answers: dict) -> list[tuple[str, str, str]]:
    """Return the (step, question, answer) keys a completion adds to the totals, sorted."""
    kinds = {step.key: step.kinds for step in STEPS}
    keys = set()
    for row in flatten_answers(answers):
        if kinds.get(row["step"], {}).get(row["question"]) in CATEGORICAL_KINDS:
            keys.add((row["step"], row["question"], answer_label(row["value"])))
    return sorted(keys)


def answer_label(value) -> str:
    """Return the totals' text form of an answer value (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def extract_role(answers: dict) -> str:
    return str(answers.get("profile", {}).get("role", ""))
