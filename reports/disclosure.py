"""Small-cell suppression the report templates apply before they show anything.

The gate blocks any count from 1 to 9 (``Gate`` policy ``min_count``); templates suppress first,
so a default run passes. A suppressed value is shown as missing (``<NA>``), never as a number;
zeros are suppressed too (a zero in a count table needs a reviewer). A percentage is suppressed
when its denominator is small, or when its numerator or the complement is a small non-zero
count: "3 of 40" would disclose the 3 even written as 7.5%.
"""

import pandas as pd


def suppress_counts(counts: pd.Series | pd.DataFrame, min_cell: int):
    """Counts as nullable integers, missing where below ``min_cell``."""
    return counts.astype("Int64").mask(counts < min_cell)


def percent(numerator: pd.Series, denominator: pd.Series, min_cell: int, digits: int = 1):
    """``100 * numerator / denominator``, rounded, missing where it would disclose a small count."""
    share = (100 * numerator / denominator).round(digits)
    rest = denominator - numerator
    hide = (
        (denominator < min_cell)
        | ((numerator > 0) & (numerator < min_cell))
        | ((rest > 0) & (rest < min_cell))
    )
    return share.astype("Float64").mask(hide)
