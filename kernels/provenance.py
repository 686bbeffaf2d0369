"""How each pandas, numpy and statsmodels result was computed, captured when it is computed.

The Enclave kernel wraps the aggregations researchers call (``groupby(...).size/count/mean/...``,
``agg``, ``value_counts``, ``describe``, ``crosstab``, ``pivot_table``, column reductions such
as ``df.mean()``, ``np.unique(..., return_counts=True)``, ``np.bincount``, ``np.histogram``) so
that each result carries a :class:`Provenance`: which statistic every cell holds and, for a
magnitude (sum, mean, std, ...), the number of records behind it, its two largest contributions,
their total and whether any was negative. Researchers write plain pandas; nothing changes in
what the call returns.

The provenance rides in ``result.attrs`` (pandas copies ``attrs`` to what it derives from the
result: ``head``, ``sort_values``, ``round``, ``T``, ``unstack``, ``reset_index``, ...; the
display code in ``structured.py`` checks, cell by cell, that a derived object still shows the
values that were computed). numpy arrays have no ``attrs``: their provenance is held in a weak
registry keyed by the array. statsmodels summaries keep the results they describe.

Capturing is best effort and never changes a result: if it fails, the result has no provenance
and the gate falls back to reading the text.
"""

import functools
import inspect
import logging
import re
import threading
import weakref
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

ATTR = "enclave.provenance"  # key in a pandas object's attrs
GROUPED_ROWS = "enclave.grouped_rows"  # attrs key: the rows are groups (a query's GROUP BY)
SERIES = "\x00series"  # column label of a Series result seen as a one-column frame

# statistics, as the gate's schema names them (output_review/structured.py)
COUNT, PROPORTION, KEY = "count", "proportion", "key"
MAGNITUDES = ("sum", "mean", "std", "var", "sem", "prod")
ORDER_STATISTICS = ("min", "max", "median", "quantile", "first", "last", "mode")
COUNT_FUNCTIONS = {"size": COUNT, "count": COUNT, "nunique": COUNT, "len": COUNT}
FUNCTION_STATISTICS = {
    **COUNT_FUNCTIONS,
    **{name: name for name in MAGNITUDES + ORDER_STATISTICS},
    "average": "mean",
    "nanmean": "mean",
    "nansum": "sum",
    "amax": "max",
    "amin": "min",
    "nanmax": "max",
    "nanmin": "min",
    "nanmedian": "median",
    "nanstd": "std",
    "nanvar": "var",
    "agg_mode": "mode",
}
DESCRIBE_ROWS = {"count": COUNT, "mean": "mean", "std": "std", "min": "min", "max": "max"}
DESCRIBE_OBJECT_ROWS = {"count": COUNT, "unique": "distinct", "top": KEY, "freq": COUNT}
EVIDENCE = ("records", "top1", "top2", "total", "negative")


@dataclass(frozen=True, eq=False)
class Provenance:
    """How one result was computed.

    ``frame`` is a copy-on-write snapshot of the result as computed (a Series as a one-column
    frame labelled ``SERIES``); ``statistic`` a frame of the same shape naming each cell's
    statistic (None: unknown); ``evidence`` maps each of ``EVIDENCE`` (and ``denominator`` for
    proportions) to a frame of the same shape. ``institutions`` are those whose rows this kernel
    had read when the result was computed.
    """

    frame: pd.DataFrame
    statistic: pd.DataFrame
    evidence: dict = field(default_factory=dict)
    institutions: tuple = ()

    def __deepcopy__(self, memo):  # immutable: pandas copies attrs on every derived object
        return self

    def __copy__(self):
        return self


class Tracker:
    """What the kernel knows across results: institutions read, numpy arrays' provenance."""

    def __init__(self):
        self.institutions: set[str] = set()
        self.arrays: dict[int, tuple] = {}  # id(array) -> (weakref, statistic)
        self.local = threading.local()

    def note_institutions(self, institutions) -> None:
        self.institutions.update(institutions)

    def tag_array(self, array, statistic: str) -> None:
        key = id(array)
        try:
            ref = weakref.ref(array, lambda _, key=key: self.arrays.pop(key, None))
        except TypeError:
            return
        self.arrays[key] = (ref, statistic)

    def array_statistic(self, array) -> str | None:
        entry = self.arrays.get(id(array))
        return entry[1] if entry and entry[0]() is array else None

    @property
    def depth(self) -> int:
        return getattr(self.local, "depth", 0)

    @depth.setter
    def depth(self, value: int) -> None:
        self.local.depth = value


TRACKER = Tracker()


# the query aggregates somewhere (a CTE may GROUP BY what the outer SELECT lists): its rows
# may be groups, not records
SQL_AGGREGATE = re.compile(
    r"\b(?:group\s+by|count|sum|avg|total|min|max|group_concat|string_agg|array_agg|"
    r"stddev\w*|variance|var_\w+|percentile_\w+|median|distinct)\b",
    re.I,
)


def without_literals(sql: str) -> str:
    return re.sub(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", " ", sql, flags=re.S)


def note_query(frame, sql: str, institutions) -> None:
    """A warehouse result: the institutions it read; whether its rows are records. When the
    query aggregates (GROUP BY, COUNT...), what pandas computes over its rows is not over
    records, so none of it gets provenance (the gate reads its text)."""
    TRACKER.note_institutions(institutions)
    if SQL_AGGREGATE.search(without_literals(sql)):
        frame.attrs[GROUPED_ROWS] = True


def rows_are_groups(obj) -> bool:
    attrs = getattr(obj, "attrs", None)
    return isinstance(attrs, dict) and bool(attrs.get(GROUPED_ROWS))


def provenance_of(obj) -> Provenance | None:
    attrs = getattr(obj, "attrs", None)
    value = attrs.get(ATTR) if isinstance(attrs, dict) else None
    return value if isinstance(value, Provenance) else None


# -- evidence: records, top contributions, totals --------------------------------------------


def numeric_values(column: pd.Series) -> np.ndarray | None:
    """The column as floats (booleans as 0/1), or None if it is not numeric."""
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return column.to_numpy(dtype=float, na_value=np.nan)
    return None


def grouped_evidence(values: pd.DataFrame, ids: np.ndarray, groups: int) -> dict:
    """Per group (0..groups-1) and column: records, the two largest values, total, negative.

    One pass of numpy per statistic (no sort): the largest value per group, then the largest
    of what remains once one occurrence of it is set aside.
    """
    out = {name: {} for name in (*EVIDENCE, "indicator")}
    for label in values.columns:
        v = numeric_values(values[label])
        if v is None:
            continue
        missing = np.isnan(v)
        if missing.any() or (len(ids) and ids.min() < 0):  # else no copies of the columns
            ok = (ids >= 0) & ~missing
            g, x = ids[ok], v[ok]
        else:
            g, x = ids, v
        records = np.bincount(g, minlength=groups)
        total = np.bincount(g, weights=x, minlength=groups)
        top1 = np.full(groups, -np.inf)
        np.maximum.at(top1, g, x)
        low = np.full(groups, np.inf)
        np.minimum.at(low, g, x)
        is_top = x == top1[g]
        ties = np.bincount(g[is_top], minlength=groups)
        top2 = np.full(groups, -np.inf)
        np.maximum.at(top2, g, np.where(is_top, -np.inf, x))
        top2 = np.where(ties >= 2, top1, top2)
        empty = records == 0
        top1[empty] = np.nan
        top2[records < 2] = 0.0
        top2[empty] = np.nan
        out["records"][label] = records
        out["total"][label] = total
        out["top1"][label] = top1
        out["top2"][label] = top2
        out["negative"][label] = low < 0
        # a column of 0/1 values: its sum is a count, its mean a proportion
        out["indicator"][label] = bool(len(x)) and bool(np.all((x == 0) | (x == 1)))
    return out


def evidence_frames(raw: dict, index) -> tuple[dict, dict]:
    """Evidence per column as frames indexed by ``index``, and which columns are 0/1."""
    frames = {name: pd.DataFrame(raw[name], index=index) for name in EVIDENCE}
    return frames, dict(raw["indicator"])


def groupby_evidence(grouped, values: pd.DataFrame) -> tuple[dict, dict]:
    grouper = grouped._grouper
    index, ids = grouper.result_index_and_ids
    return evidence_frames(grouped_evidence(values, np.asarray(ids), len(index)), index)


def whole_evidence(values: pd.DataFrame) -> tuple[dict, dict]:
    """Evidence of each column over all rows, as one-row frames (row label 0)."""
    ids = np.zeros(len(values), dtype=np.intp)
    return evidence_frames(grouped_evidence(values, ids, 1), pd.RangeIndex(1))


# -- building a result's provenance ----------------------------------------------------------


def as_frame(result) -> pd.DataFrame:
    return result.to_frame(SERIES) if isinstance(result, pd.Series) else result


def statistic_frame(frame: pd.DataFrame, per_column: dict) -> pd.DataFrame:
    data = {j: [per_column.get(label)] * len(frame) for j, label in enumerate(frame.columns)}
    stats = pd.DataFrame(data, index=frame.index, dtype=object)
    stats.columns = frame.columns
    return stats


def attach(result, statistic: pd.DataFrame, evidence: dict | None = None) -> None:
    frame = as_frame(result)
    result.attrs[ATTR] = Provenance(
        frame.copy(deep=False),  # copy-on-write: later in-place edits of result don't reach it
        statistic,
        evidence or {},
        tuple(sorted(TRACKER.institutions)),
    )


def column_evidence(frame: pd.DataFrame, sources: dict, ev: dict, rows=None) -> dict:
    """Evidence frames shaped like ``frame``: cell (i, c) takes the evidence of source column
    ``sources[c]`` at group ``frame.index[i]`` (or at ``rows`` when given: one group for all)."""
    shaped, aligned = {}, {}
    for name, values in ev.items():
        data = {}
        if id(values.index) not in aligned:  # the groups in the result's order: no reindex
            aligned[id(values.index)] = rows is None and values.index.equals(frame.index)
        for j, label in enumerate(frame.columns):
            source = sources.get(label)
            if source is None or source not in values.columns:
                data[j] = np.full(len(frame), np.nan)
            elif rows is not None:
                data[j] = np.repeat(values[source].to_numpy(dtype=float)[rows], len(frame))
            elif aligned[id(values.index)]:
                data[j] = values[source].to_numpy(dtype=float)
            else:
                data[j] = values[source].reindex(frame.index).to_numpy(dtype=float)
        shaped[name] = pd.DataFrame(data, index=frame.index)
        shaped[name].columns = frame.columns
    return shaped


def refine(stats: pd.DataFrame, sources: dict, indicator: dict, ev: dict) -> None:
    """A sum of 0/1 values is a count; a mean of them a proportion (numerator: their sum)."""
    for j, label in enumerate(stats.columns):
        if not indicator.get(sources.get(label)):
            continue
        column = stats.iloc[:, j]
        stats.iloc[:, j] = column.replace({"sum": COUNT, "mean": PROPORTION})
        if (column == "mean").any():
            ev.setdefault("denominator", ev["records"].copy())
            ev["denominator"].iloc[:, j] = ev["records"].iloc[:, j]
            ev["records"].iloc[:, j] = ev["total"].iloc[:, j]


def sum_of_counts(obj, column) -> bool:
    """Whether ``column`` of ``obj`` holds counts (its provenance says so in every cell)."""
    prov = provenance_of(obj)
    if prov is None or column not in prov.statistic.columns:
        return False
    stats = prov.statistic[column]
    return isinstance(stats, pd.Series) and bool((stats == COUNT).all())


def statistic_name(func) -> str | None:
    if isinstance(func, str):
        return FUNCTION_STATISTICS.get(func)
    name = getattr(func, "__name__", None)
    return FUNCTION_STATISTICS.get(name) if name else None


# -- groupby -----------------------------------------------------------------------------------


def selected(grouped) -> pd.DataFrame:
    """The columns a groupby aggregates (a SeriesGroupBy's series as a one-column frame)."""
    obj = grouped._obj_with_exclusions
    return obj.to_frame(obj.name if obj.name is not None else SERIES) if obj.ndim == 1 else obj


def groupby_provenance(grouped, result, statistic_of) -> None:
    """``statistic_of(label) -> (statistic, source column)`` for each result column."""
    frame = as_frame(result)
    per_column, sources = {}, {}
    for label in frame.columns:
        stat, source = statistic_of(label)
        if stat == "sum" and sum_of_counts(grouped.obj, source):
            stat = COUNT
        per_column[label], sources[label] = stat, source
    stats = statistic_frame(frame, per_column)
    needs = {s for s in per_column.values() if s and s != COUNT}
    if not needs:
        attach(result, stats)
        return
    values = selected(grouped)
    wanted = [s for s in dict.fromkeys(sources.values()) if s in values.columns]
    ev, indicator = groupby_evidence(grouped, values[wanted])
    shaped = column_evidence(frame, sources, ev)
    refine(stats, sources, indicator, shaped)
    attach(result, stats, shaped)


def series_name(grouped):
    obj = grouped._obj_with_exclusions
    return obj.name if obj.ndim == 1 and obj.name is not None else SERIES


def method_statistic(method: str):
    stat = FUNCTION_STATISTICS.get(method)

    def record(grouped, result, args, kwargs):
        if isinstance(grouped, pd.core.groupby.SeriesGroupBy):
            name = series_name(grouped)
            groupby_provenance(grouped, result, lambda _: (stat, name))
        else:
            groupby_provenance(grouped, result, lambda label: (stat, label))

    return record


def size_record(grouped, result, args, kwargs) -> None:
    if isinstance(result, pd.DataFrame):  # as_index=False: the keys are columns
        keys = set(grouped._grouper.names)
        stats = {label: (KEY if label in keys else COUNT) for label in result.columns}
        attach(result, statistic_frame(result, stats))
    else:
        attach(result, statistic_frame(as_frame(result), {SERIES: COUNT}))


def agg_record(grouped, result, args, kwargs) -> None:
    func = args[0] if args else kwargs.get("func")
    is_series = isinstance(grouped, pd.core.groupby.SeriesGroupBy)
    name = series_name(grouped) if is_series else None
    named = {k: v for k, v in kwargs.items() if k != "func"}
    if func is None and named:  # named aggregation: out=("column", "func") or pd.NamedAgg

        def statistic_of(label):
            spec = named.get(label)
            if is_series:
                return statistic_name(spec), name
            if isinstance(spec, tuple) and len(spec) == 2:
                return statistic_name(spec[1]), spec[0]
            return None, None

    elif isinstance(func, dict):

        def statistic_of(label):
            if isinstance(label, tuple) and len(label) == 2:
                return statistic_name(label[1]), label[0]
            return statistic_name(func.get(label)), label

    elif isinstance(func, list | tuple):

        def statistic_of(label):
            if is_series:
                return statistic_name(label), name
            if isinstance(label, tuple) and len(label) == 2:
                return statistic_name(label[1]), label[0]
            return None, None

    else:

        def statistic_of(label):
            return statistic_name(func), (name if is_series else label)

    groupby_provenance(grouped, result, statistic_of)


def describe_record(grouped, result, args, kwargs) -> None:
    """groupby(...).describe(): columns (column, statistic) per group."""

    def statistic_of(label):
        if isinstance(label, tuple):
            column, row = label[0], label[-1]
        else:
            column, row = series_name(grouped), label
        return describe_statistic(str(row)), column

    groupby_provenance(grouped, result, statistic_of)


def describe_statistic(row: str) -> str | None:
    if row in DESCRIBE_ROWS:
        return DESCRIBE_ROWS[row]
    if row == "50%":
        return "median"
    if row.endswith("%"):
        return "quantile"
    return DESCRIBE_OBJECT_ROWS.get(row)


def value_counts_record(obj, result, args, kwargs) -> None:
    call = value_counts_call(obj, args, kwargs)
    if call is None:
        return
    if not call.arguments.get("normalize"):
        attach(result, statistic_frame(as_frame(result), {SERIES: COUNT}))
        return
    counts = value_counts_of(obj, call)
    frame = as_frame(result)
    records = counts.reindex(result.index).to_numpy(dtype=float)
    if isinstance(obj, pd.core.groupby.SeriesGroupBy):
        level = list(range(result.index.nlevels - 1))
        totals = counts.groupby(level=level).transform("sum").reindex(result.index)
    else:
        totals = pd.Series(counts.sum(), index=result.index)
    ev = {
        "records": pd.DataFrame({SERIES: records}, index=frame.index),
        "denominator": pd.DataFrame({SERIES: totals.to_numpy(dtype=float)}, index=frame.index),
    }
    attach(result, statistic_frame(frame, {SERIES: PROPORTION}), ev)


def value_counts_call(obj, args, kwargs) -> inspect.BoundArguments | None:
    """The call's arguments by name (``Series.value_counts(normalize, ...)`` but
    ``DataFrame.value_counts(subset, normalize, ...)``), or None if they do not bind."""
    try:
        return inspect.signature(type(obj).value_counts).bind(obj, *args, **kwargs)
    except (TypeError, ValueError):
        return None


def value_counts_of(obj, call: inspect.BoundArguments):
    """The counts of the same call (its subset, bins, dropna...), not normalised."""
    call.arguments["normalize"] = False
    with quiet():
        return type(obj).value_counts(*call.args, **call.kwargs)


# -- describe and whole-column reductions ------------------------------------------------------


def frame_describe_record(obj, result, args, kwargs) -> None:
    values = obj.to_frame(SERIES if obj.name is None else obj.name) if obj.ndim == 1 else obj
    frame = as_frame(result)
    ev, _ = whole_evidence(values)
    sources = {label: label for label in frame.columns}
    if isinstance(result, pd.Series):
        sources = {SERIES: values.columns[0]}
    shaped = column_evidence(frame, sources, ev, rows=0)
    stats = pd.DataFrame(
        {j: [describe_statistic(str(row)) for row in frame.index] for j in range(frame.shape[1])},
        index=frame.index,
        dtype=object,
    )
    stats.columns = frame.columns
    attach(result, stats, shaped)


def reduction_record(method: str):
    """df.mean(), df.sum(), df.count()...: a Series over columns, each from all rows. The
    number of distinct values of a whole column is not a count of people."""
    stat = "distinct" if method == "nunique" else FUNCTION_STATISTICS.get(method)

    def record(obj, result, args, kwargs):
        if not isinstance(obj, pd.DataFrame) or not isinstance(result, pd.Series):
            return
        if kwargs.get("axis", args[0] if args else 0) not in (0, "index"):
            return
        frame = as_frame(result)
        stats = pd.DataFrame({SERIES: [stat] * len(frame)}, index=frame.index, dtype=object)
        if stat in (COUNT, "distinct", None):
            attach(result, stats)
            return
        columns = [label for label in result.index if label in obj.columns]
        ev, indicator = whole_evidence(obj[columns])
        shaped = {}
        for name, values in ev.items():
            row = values.iloc[0].reindex(result.index).to_numpy(dtype=float)
            shaped[name] = pd.DataFrame({SERIES: row}, index=frame.index)
        for i, label in enumerate(result.index):
            if indicator.get(label):
                stats.iloc[i, 0] = {"sum": COUNT, "mean": PROPORTION}.get(stat, stat)
        proportion = (stats[SERIES] == PROPORTION).to_numpy()
        if proportion.any():
            shaped["denominator"] = shaped["records"].copy()
            shaped["records"].loc[proportion, SERIES] = shaped["total"].loc[proportion, SERIES]
        attach(result, stats, shaped)

    return record


# -- crosstab and pivot_table ------------------------------------------------------------------


def second_largest(values) -> float:
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) < 2:
        return 0.0 if len(x) == 1 else np.nan
    return float(np.partition(x, len(x) - 2)[len(x) - 2])


EVIDENCE_AGGREGATIONS = {
    "records": "count",
    "total": "sum",
    "top1": "max",
    "top2": second_largest,
    "negative": "min",
}


def table_evidence(rerun, frame: pd.DataFrame, agg_level: bool) -> dict:
    """Evidence for a crosstab/pivot_table by running it again with each evidence aggregation:
    pandas then shapes it (margins included) exactly like the result. With a list of
    aggregations the result's top column level names them; the evidence has no such level."""
    shaped = {}
    for name, aggregation in EVIDENCE_AGGREGATIONS.items():
        table = rerun(aggregation)
        if name == "negative":
            table = table < 0
        if agg_level:
            columns = frame.columns.droplevel(0)
            values = table.reindex(columns=columns).to_numpy(dtype=float)
            table = pd.DataFrame(values, index=table.index, columns=frame.columns)
        shaped[name] = table.reindex(index=frame.index, columns=frame.columns).astype(float)
    return shaped


def table_statistics(frame: pd.DataFrame, aggfunc, agg_level: bool) -> pd.DataFrame:
    if agg_level:
        per = {label: statistic_name(label[0]) for label in frame.columns}
    elif isinstance(aggfunc, dict):
        per = {
            label: statistic_name(aggfunc.get(label[0] if isinstance(label, tuple) else label))
            for label in frame.columns
        }
    else:
        stat = statistic_name(aggfunc)
        per = {label: stat for label in frame.columns}
    return statistic_frame(frame, per)


def crosstab_record(_, result, args, kwargs) -> None:
    names = ("index", "columns", "values", "rownames", "colnames", "aggfunc")
    call = dict(zip(names, args, strict=False)) | kwargs
    aggfunc, values = call.get("aggfunc"), call.get("values")
    normalize = call.get("normalize", False)
    frame = as_frame(result)
    if values is None or aggfunc is None:
        if not normalize:
            attach(result, statistic_frame(frame, dict.fromkeys(frame.columns, COUNT)))
            return
        counts = rerun_crosstab(call, normalize=False)
        attach(result, *proportions(frame, counts, normalize, call.get("margins", False)))
        return
    agg_level = isinstance(aggfunc, list | tuple)
    stats = table_statistics(frame, aggfunc, agg_level)
    if not stats.isin([COUNT]).all().all():
        ev = table_evidence(lambda agg: rerun_crosstab(call, aggfunc=agg), frame, agg_level)
        attach(result, stats, ev)
    else:
        attach(result, stats)


def rerun_crosstab(call: dict, **changes):
    with quiet():
        return ORIGINALS["crosstab"](**(call | changes))


def proportions(frame, counts, normalize, margins) -> tuple:
    """Normalised crosstab: each cell's numerator count and the count it is divided by."""
    counts = counts.reindex(index=frame.index, columns=frame.columns)
    if not margins:
        full = counts.astype(float)
        if normalize in ("index", 0):
            denominator = np.broadcast_to(full.sum(axis=1).to_numpy()[:, None], full.shape)
        elif normalize in ("columns", 1):
            denominator = np.broadcast_to(full.sum(axis=0).to_numpy()[None, :], full.shape)
        else:
            denominator = np.full(full.shape, full.to_numpy().sum())
    else:  # pandas normalises the margins too: take the denominators from the "All" cells
        full = counts.astype(float)
        last_row, last_col = full.iloc[-1].to_numpy(), full.iloc[:, -1].to_numpy()
        if normalize in ("index", 0):
            denominator = np.broadcast_to(last_col[:, None], full.shape)
        elif normalize in ("columns", 1):
            denominator = np.broadcast_to(last_row[None, :], full.shape)
        else:
            denominator = np.full(full.shape, full.iloc[-1, -1])
    ev = {
        "records": full,
        "denominator": pd.DataFrame(
            np.array(denominator, dtype=float), index=frame.index, columns=frame.columns
        ),
    }
    stats = statistic_frame(frame, dict.fromkeys(frame.columns, PROPORTION))
    return stats, ev


def pivot_table_record(obj, result, args, kwargs) -> None:
    if not isinstance(result, pd.DataFrame):
        return
    if isinstance(obj, pd.DataFrame):
        call = dict(zip(("values", "index", "columns", "aggfunc"), args, strict=False)) | kwargs
        call["data"] = obj
    else:
        names = ("data", "values", "index", "columns", "aggfunc")
        call = dict(zip(names, args, strict=False)) | kwargs
    aggfunc = call.get("aggfunc", "mean")
    agg_level = isinstance(aggfunc, list | tuple)
    stats = table_statistics(result, aggfunc, agg_level)
    if stats.isin([COUNT]).all().all():
        attach(result, stats)
        return
    direct = pivot_evidence(call, result)
    if direct is not None:
        attach(result, stats, direct)
        return
    if isinstance(aggfunc, dict):  # evidence is per value column whatever its aggregation

        def rerun(agg):
            return rerun_pivot(call, aggfunc=dict.fromkeys(aggfunc, agg))
    else:

        def rerun(agg):
            return rerun_pivot(call, aggfunc=agg)

    attach(result, stats, table_evidence(rerun, result, agg_level))


def pivot_evidence(call: dict, result: pd.DataFrame) -> dict | None:
    """The evidence of a plain pivot (one value column, one aggregation, no margins or fill):
    one numpy pass over the groups of its row and column keys, shaped like the result,
    instead of five more pivots. None for any other pivot (those are run again)."""
    data, values = call.get("data"), call.get("values")
    rows, columns = as_keys(call.get("index")), as_keys(call.get("columns"))
    plain = (
        isinstance(data, pd.DataFrame)
        and isinstance(values, str)
        and isinstance(call.get("aggfunc", "mean"), str)
        and rows
        and columns
        and not call.get("margins", False)
        and call.get("fill_value") is None
        and call.get("dropna", True) is True
        and call.get("observed", True) is True
        and all(isinstance(k, str) and k in data.columns for k in (*rows, *columns, values))
        and not any(isinstance(data[k].dtype, pd.CategoricalDtype) for k in (*rows, *columns))
        and isinstance(result.columns, pd.MultiIndex) == (len(columns) > 1)
    )
    if not plain:
        return None
    with quiet():
        grouped = data.groupby(rows + columns, observed=True, sort=True, dropna=True)
        ev, _ = groupby_evidence(grouped, data[[values]])
        levels = list(range(len(rows), len(rows) + len(columns)))
        shaped = {
            name: frame[values]
            .unstack(level=levels)
            .reindex(index=result.index, columns=result.columns)
            .astype(float)
            for name, frame in ev.items()
        }
    shaped["negative"] = shaped["negative"].fillna(0.0)  # as `min < 0` of an empty cell
    return shaped


def as_keys(keys) -> list:
    if keys is None:
        return []
    return list(keys) if isinstance(keys, list | tuple) else [keys]


def rerun_pivot(call: dict, **changes):
    with quiet():
        return ORIGINALS["pivot_table"](**(call | changes))


# -- numpy and statsmodels ---------------------------------------------------------------------


def unique_record(_, result, args, kwargs) -> None:
    if kwargs.get("return_counts") and isinstance(result, tuple):
        TRACKER.tag_array(result[-1], COUNT)
        TRACKER.tag_array(result[0], KEY)


def counts_record(_, result, args, kwargs) -> None:
    counts = result[0] if isinstance(result, tuple) else result
    if isinstance(counts, np.ndarray) and counts.dtype.kind in "iu":
        TRACKER.tag_array(counts, COUNT)


MODEL_KEY = "_enclave_model"


def model_facts(results) -> dict | None:
    """What the gate needs of a fitted model: residual degrees of freedom, observations."""
    facts = {}
    for name in ("df_resid", "nobs"):
        try:
            value = float(getattr(results, name))
        except (AttributeError, TypeError, ValueError):
            continue
        if np.isfinite(value):
            facts[name] = value
    if "df_resid" not in facts:
        return None
    model = getattr(results, "model", None)
    facts["model"] = type(model).__name__ if model is not None else type(results).__name__
    return facts


def summary_record(summary, result, args, kwargs) -> None:
    """Summary.add_table_2cols(res, ...): the summary learns which results it describes."""
    res = args[0] if args else kwargs.get("res")
    facts = model_facts(res)
    if facts is not None:
        setattr(summary, MODEL_KEY, facts)


def carry(obj, result, args, kwargs) -> None:
    """Keep the provenance on a reshaped result (the display code re-matches its cells)."""
    prov = provenance_of(obj)
    if prov is not None and provenance_of(result) is None:
        result.attrs[ATTR] = prov


# -- installing the wrappers -------------------------------------------------------------------

ORIGINALS: dict[str, object] = {}
PATCHES: list[tuple[object, str, object]] = []  # (owner, attribute, original)


class quiet:
    """Inside: wrapped calls record nothing (evidence computation, pandas' own inner calls)."""

    def __enter__(self):
        TRACKER.depth += 1

    def __exit__(self, *exc):
        TRACKER.depth -= 1


def over_groups(subject, args, kwargs) -> bool:
    """Whether a call aggregates rows that are themselves groups (see ``note_query``)."""
    if isinstance(subject, pd.core.groupby.GroupBy):
        subject = subject.obj
    inputs = [subject, *args, *kwargs.values()]
    inputs += [x for a in inputs if isinstance(a, list | tuple) for x in a]
    return any(rows_are_groups(x) for x in inputs)


def wrapping(original, record):
    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        if TRACKER.depth:
            return original(*args, **kwargs)
        with quiet():
            result = original(*args, **kwargs)
            try:
                subject = args[0] if args else None
                if not over_groups(subject, args, kwargs):
                    record(subject, result, args[1:], kwargs)
            except Exception as e:  # never break the researcher's call; the gate reads text
                log.debug("provenance not recorded for %s: %s", original.__name__, type(e).__name__)
        return result

    wrapper.__enclave_original__ = original
    return wrapper


def patch(owner, name: str, record) -> None:
    original = getattr(owner, name, None)
    if original is None or hasattr(original, "__enclave_original__"):
        return
    setattr(owner, name, wrapping(original, record))
    PATCHES.append((owner, name, original))


def patch_function(module, name: str, record) -> None:
    """Module-level functions (pd.crosstab) get no subject: the record sees None first."""
    original = getattr(module, name, None)
    if original is None or hasattr(original, "__enclave_original__"):
        return
    ORIGINALS[name] = original

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        if TRACKER.depth:
            return original(*args, **kwargs)
        with quiet():
            result = original(*args, **kwargs)
            try:
                if not over_groups(None, args, kwargs):
                    record(None, result, args, kwargs)
            except Exception as e:
                log.debug("provenance not recorded for %s: %s", name, type(e).__name__)
        return result

    wrapper.__enclave_original__ = original
    setattr(module, name, wrapper)
    PATCHES.append((module, name, original))


GROUPBY_METHODS = (
    "count",
    "nunique",
    "sum",
    "mean",
    "median",
    "min",
    "max",
    "std",
    "var",
    "sem",
    "prod",
    "first",
    "last",
    "quantile",
)
REDUCTIONS = ("count", "nunique", "sum", "mean", "median", "min", "max", "std", "var", "sem")


def install() -> None:
    """Wrap the aggregations (idempotent). statsmodels is wrapped when it is imported."""
    from pandas.core.groupby import DataFrameGroupBy, SeriesGroupBy

    for cls in (SeriesGroupBy, DataFrameGroupBy):
        for method in GROUPBY_METHODS:
            patch(cls, method, method_statistic(method))
        patch(cls, "size", size_record)
        patch(cls, "agg", agg_record)
        patch(cls, "aggregate", agg_record)
        patch(cls, "describe", describe_record)
    patch(SeriesGroupBy, "value_counts", value_counts_record)
    patch(pd.Series, "value_counts", value_counts_record)
    patch(pd.DataFrame, "value_counts", value_counts_record)
    patch(pd.Series, "describe", frame_describe_record)
    patch(pd.DataFrame, "describe", frame_describe_record)
    for method in REDUCTIONS:
        patch(pd.DataFrame, method, reduction_record(method))
    for cls in (pd.Series, pd.DataFrame):  # pandas does not carry attrs through unstack
        patch(cls, "unstack", carry)
    patch_function(pd, "crosstab", crosstab_record)
    patch_function(pd, "pivot_table", pivot_table_record)
    patch(pd.DataFrame, "pivot_table", pivot_table_record)
    patch_function(np, "unique", unique_record)
    patch_function(np, "bincount", counts_record)
    patch_function(np, "histogram", counts_record)
    install_statsmodels_hook()


def install_statsmodels(summary_module) -> None:
    patch(summary_module.Summary, "add_table_2cols", summary_record)


def install_statsmodels_hook() -> None:
    """Wrap statsmodels' Summary when (and if) a researcher imports statsmodels."""
    import sys

    module = sys.modules.get("statsmodels.iolib.summary")
    if module is not None:
        install_statsmodels(module)
        return
    if not any(isinstance(f, StatsmodelsFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, StatsmodelsFinder())


class StatsmodelsFinder:
    """A meta-path hook that only watches for ``statsmodels.iolib.summary`` being loaded."""

    target = "statsmodels.iolib.summary"

    def find_spec(self, name, path=None, target=None):
        if name != self.target:
            return None
        import importlib.machinery
        import sys

        sys.meta_path.remove(self)
        try:
            spec = importlib.machinery.PathFinder.find_spec(name, path)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return None
        spec.loader = WrappingLoader(spec.loader)
        return spec


class WrappingLoader:
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        try:
            install_statsmodels(module)
        except Exception as e:
            log.debug("statsmodels summaries not wrapped: %s", type(e).__name__)


def uninstall() -> None:
    """Undo every wrapper (tests and the overhead benchmark)."""
    import sys

    while PATCHES:
        owner, name, original = PATCHES.pop()
        setattr(owner, name, original)
    ORIGINALS.clear()
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, StatsmodelsFinder)]
