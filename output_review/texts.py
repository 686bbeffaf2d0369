"""Every piece of text in a cell that could carry a disclosure, with where it sits.

Checks that look for patterns (keys, identifiers) scan these; the gate screens sources,
every representation of every output, streams, tracebacks, attachments and metadata.
"""

import json
import re
from dataclasses import dataclass
from functools import cached_property

from enclave.output_review.reader import is_json_mime

STRUCTURED = "application/vnd.enclave.table+json"  # structured.MIMETYPE
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
BINARY_IMAGES = ("image/png", "image/jpeg", "image/gif", "image/bmp", "image/webp")


@dataclass(frozen=True)
class Text:
    output: int | None  # None: the cell's source, attachments or metadata
    kind: str  # a mimetype, "stdout"/"stderr", "traceback", "source", "metadata"
    text: str

    @cached_property
    def lower(self) -> str:
        """The text in lower case, made once for every check that needs it."""
        return self.text.lower()

    @cached_property
    def utf8(self) -> bytes:
        """The text as UTF-8 bytes, made once: checks translate them into character classes
        (``bytes.translate`` runs at memory speed) to rule texts out before a regex runs."""
        return self.text.encode("utf-8", "replace")

    def classes(self, table: bytes) -> bytes:
        """:attr:`utf8` translated by ``table`` (``bytes.maketrans``), made once per table."""
        cache = self.__dict__.setdefault("_classes", {})
        if table not in cache:
            cache[table] = self.utf8.translate(table)
        return cache[table]


def as_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def output_texts(output, index: int):
    kind = output.output_type
    if kind == "stream":
        yield Text(index, str(output.name), output.text)
    elif kind == "error":
        parts = [str(output.ename), str(output.evalue), *map(str, output.traceback)]
        yield Text(index, "traceback", ANSI.sub("", "\n".join(parts)))
    else:
        for mime, value in output.data.items():
            if mime in BINARY_IMAGES:
                continue  # base64 pixels carry no text we can read; the image rule reviews them
            if mime == STRUCTURED:
                continue  # the kernel's evidence: read by the gate, stripped before release
            yield Text(index, mime, as_text(value) if is_json_mime(mime) else value)
    if output.get("metadata"):
        yield Text(index, "metadata", as_text(output.metadata))


class LastCell:
    """Every check of a cell asks for its texts: the gate screens cell by cell, so keeping
    the last cell's list shares it. Cleared after each screen (it holds output text)."""

    def __init__(self):
        self.cell, self.texts = None, []

    def __call__(self, cell) -> list[Text]:
        if cell is not self.cell:
            self.cell, self.texts = cell, list(_cell_texts(cell))
        return self.texts

    def cache_clear(self) -> None:
        self.cell, self.texts = None, []


def _cell_texts(cell):
    """Source and cell-level metadata first, then each output's texts."""
    yield Text(None, "source", cell.source)
    if cell.get("metadata"):
        yield Text(None, "metadata", as_text(cell.metadata))
    for name, bundle in cell.get("attachments", {}).items():
        yield Text(None, "attachment", name)
        for mime, value in bundle.items():
            if mime not in BINARY_IMAGES:
                yield Text(None, mime, as_text(value))
    for index, output in enumerate(cell.get("outputs", ())):
        yield from output_texts(output, index)


cell_texts = LastCell()
