"""Notebooks for the tests: built with nbformat, outputs shaped like real pandas output."""

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

STUDENT_KEY = "stu_" + "0123456789abcdefghjkmnpqrs"


def table_html(rows) -> str:
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    head = "<thead><tr><th>institution</th><th>students</th></tr></thead>"
    return f'<table border="1" class="dataframe">{head}<tbody>{body}</tbody></table>'


def passing(title="Completion by term", rows=(("2021FA", 120), ("2022SP", 140))) -> dict:
    return new_notebook(
        cells=[
            new_markdown_cell(f"# {title}"),
            new_code_cell(
                "df.groupby('term').size()",
                execution_count=1,
                outputs=[
                    new_output(
                        "execute_result",
                        data={"text/plain": "\n".join(f"{k}  {v}" for k, v in rows)},
                        execution_count=1,
                    )
                ],
            ),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )


def naming(institutions) -> dict:
    """A notebook whose output table ranks institutions by code."""
    nb = passing()
    rows = [(code, 100 + 10 * i) for i, code in enumerate(institutions)]
    nb.cells.append(
        new_code_cell(
            "ranking",
            execution_count=2,
            outputs=[
                new_output(
                    "execute_result", data={"text/html": table_html(rows)}, execution_count=2
                )
            ],
        )
    )
    return nb


def blocked() -> dict:
    nb = passing()
    nb.cells.append(
        new_code_cell(
            "df.head(1)",
            execution_count=3,
            outputs=[new_output("stream", name="stdout", text=f"first key: {STUDENT_KEY}\n")],
        )
    )
    return nb


def to_bytes(nb) -> bytes:
    return nbformat.writes(nb).encode()
