"""Notebooks for the tests: built with nbformat, outputs shaped like real pandas output."""

import nbformat
import numpy as np
import pandas as pd
import statsmodels.api as sm
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


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sector": ["cc", "univ", "k12"] * 20,
            "gpa": np.linspace(2, 4, 60),
            "term": ["2021FA", "2022SP"] * 30,
        }
    )


def html_output(html: str, count: int) -> dict:
    return new_output(
        "execute_result", data={"text/html": html, "text/plain": "table"}, execution_count=count
    )


def table_notebook() -> dict:
    df = frame()
    grouped = df.groupby("sector").agg(mean_gpa=("gpa", "mean"), students=("gpa", "size"))
    wide = df.groupby(["sector", "term"]).gpa.mean().unstack()
    model = sm.OLS(np.arange(60.0) + np.sin(np.arange(60.0)), sm.add_constant(df["gpa"])).fit()
    styled = grouped.style.background_gradient().to_html()
    hostile = (
        "<table><caption>hand-made</caption><tr><th>year</th><td>2021</td></tr></table>"
        "<script>document.title='ran'</script><img src=x onerror=\"document.title='ran'\">"
        "<a href=\"javascript:document.title='ran'\">link</a><iframe src='https://x.test/'>"
        "</iframe><form action='https://x.test/'><input name=q></form>"
        "<img src='https://x.test/beacon.png'><style>body{background:url(https://x.test/)}</style>"
        "<div style='background-image:url(https://x.test/a); color: red'>styled</div>"
    )
    cells = [
        new_markdown_cell("# Completion\n\n| term | share |\n|---|---|\n| 2021FA | 0.4 |"),
        new_code_cell(
            "grouped", execution_count=17, outputs=[html_output(grouped._repr_html_(), 17)]
        ),
        new_code_cell("wide", execution_count=18, outputs=[html_output(wide._repr_html_(), 18)]),
        new_code_cell(
            "model.summary()",
            execution_count=19,
            outputs=[html_output(model.summary()._repr_html_(), 19)],
        ),
        new_code_cell("styled", execution_count=20, outputs=[html_output(styled, 20)]),
        new_code_cell("HTML(hostile)", execution_count=21, outputs=[html_output(hostile, 21)]),
    ]
    return nbformat.from_dict(new_notebook(cells=cells))
