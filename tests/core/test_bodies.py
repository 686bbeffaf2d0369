"""JSON request bodies: each refusal is one line naming the field, never the value sent."""

import pytest
from pydantic import Field

from enclave.bodies import Body, parse_body
from enclave.errors import EnclaveError


class Record(Body):
    name: str = Field(max_length=5)
    rows: int = Field(0, ge=0)
    tags: list[str] = []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "name: required."),
        (b"{not json", "request body: not valid JSON; send a JSON object."),
        (b"[1, 2]", "request body: expected a JSON object."),
        (b'{"name": 5}', "name: input should be a valid string."),
        (b'{"name": "secret-value"}', "name: string should have at most 5 characters."),
        (b'{"name": "a", "rows": "5"}', "rows: input should be a valid integer."),
        (b'{"name": "a", "rows": true}', "rows: input should be a valid integer."),
        (b'{"name": "a", "rows": -1}', "rows: input should be greater than or equal to 0."),
        (b'{"name": "a", "tags": ["x", 3]}', "tags.1: input should be a valid string."),
        (
            b'{"name": "a", "stu_01ABCDEF": 1}',
            "request body: a field that is not known was sent; the fields are name, rows, tags.",
        ),
    ],
)
def test_a_bad_body_is_one_line_naming_the_field(raw, message):
    with pytest.raises(EnclaveError) as refused:
        parse_body(Record, raw)
    text = str(refused.value)
    assert text == message and "\n" not in text
    assert "secret-value" not in text and "stu_" not in text  # nothing sent is echoed


def test_a_good_body_is_its_model():
    record = parse_body(Record, '{"name": "ok", "rows": 3, "tags": ["a"]}')
    assert (record.name, record.rows, record.tags) == ("ok", 3, ["a"])


def test_the_caller_chooses_the_error_type():
    class Refused(EnclaveError):
        pass

    with pytest.raises(Refused):
        parse_body(Record, b"{}", Refused)
