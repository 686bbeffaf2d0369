"""JSON request bodies as pydantic models, refused with one line that names the field.

Each endpoint that takes JSON declares what it accepts as a ``Body`` subclass: field types,
required fields, lengths, allowed values. Anything else is refused before a handler looks at it:
unknown fields, a value of the wrong JSON type (no coercion: ``"5"`` is not a number, ``true``
is not 1), a string over its length. The error is one sentence naming the first bad field and
what was expected; it never quotes what was sent (pydantic's messages do not, its ``input`` is
never used, and an unknown field's name, the sender's text, is not repeated), so nothing a
session sent ends up in a log or an answer.
"""

from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from enclave.errors import EnclaveError


class Body(BaseModel):
    """A JSON object with exactly these fields, of exactly these JSON types."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


B = TypeVar("B", bound=Body)


def parse_body(model: type[B], raw: bytes | str, error: type[EnclaveError] = EnclaveError) -> B:
    """``raw`` (a JSON document; empty means ``{}``) as ``model``, or ``error`` with one line."""
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as e:
        raise error(describe(e, model)) from None


def describe(e: ValidationError, model: type[Body]) -> str:
    """The first problem of a validation error as one line: ``field: what was expected.``
    An unknown field is not named (its name is the sender's text): the known ones are."""
    problem = e.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in problem["loc"]) or "request body"
    if problem["type"] == "json_invalid":
        return "request body: not valid JSON; send a JSON object."
    if problem["type"] == "model_type":
        return "request body: expected a JSON object."
    if problem["type"] == "missing":
        return f"{where}: required."
    if problem["type"] == "extra_forbidden":
        known = ", ".join(model.model_fields)
        return f"request body: a field that is not known was sent; the fields are {known}."
    return f"{where}: {problem['msg'][0].lower()}{problem['msg'][1:]}."
