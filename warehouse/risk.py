"""``enclave warehouse risk``: k-anonymity of the students' quasi-identifiers.

An equivalence class is the set of student rows sharing birth year, gender, ethnicity, ZIP3
and institution. A student in a class smaller than k can be singled out by anyone who knows
those five facts. The report gives, per institution, how many classes fall in each size band
and the share of students in classes smaller than k. It prints counts only.
"""

import pandas as pd
import sqlalchemy as sa

from enclave.errors import EnclaveError
from enclave.warehouse.db import connect_readonly

QUASI_IDENTIFIERS = ("institution", "birth_year", "gender", "ethnicity", "zip3")
BANDS = ((1, 1), (2, 2), (3, 4), (5, 9), (10, 19), (20, None))


def _band(low: int, high: int | None) -> str:
    return f"{low}+" if high is None else (str(low) if low == high else f"{low}-{high}")


def class_sizes(url: str) -> pd.DataFrame:
    """One row per equivalence class: its quasi-identifier values and its size."""
    cols = ", ".join(QUASI_IDENTIFIERS)
    engine = connect_readonly(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(f"SELECT {cols}, COUNT(*) AS size FROM students GROUP BY {cols}")
            ).all()
    except sa.exc.OperationalError as e:
        raise EnclaveError(
            f"{url}: cannot read the warehouse ({type(e.orig).__name__}); check --url.", 4
        ) from None
    finally:
        engine.dispose()
    return pd.DataFrame(rows, columns=[*QUASI_IDENTIFIERS, "size"])


def risk_report(url: str, k: int = 5) -> pd.DataFrame:
    """Per institution (and all): students, classes, classes per size band, share below k."""
    sizes = class_sizes(url)
    groups = [(inst, g) for inst, g in sizes.groupby("institution")] + [("all", sizes)]
    rows = []
    for inst, g in groups:
        row = {"institution": inst, "students": int(g["size"].sum()), "classes": len(g)}
        for low, high in BANDS:
            upper = g["size"] <= high if high is not None else True
            row[_band(low, high)] = int(((g["size"] >= low) & upper).sum())
        small = g.loc[g["size"] < k, "size"].sum()
        row[f"share below k={k}"] = small / row["students"] if row["students"] else 0.0
        rows.append(row)
    return pd.DataFrame(rows)


def format_risk(report: pd.DataFrame, k: int) -> str:
    shown = report.copy()
    share = f"share below k={k}"
    shown[share] = shown[share].map("{:.1%}".format)
    head = f"k-anonymity of ({', '.join(QUASI_IDENTIFIERS)}); class-size bands count classes\n"
    return head + shown.to_string(index=False)
