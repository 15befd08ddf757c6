"""Reading a data table from disk (CSV or Parquet), refusing column names given twice."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from autofix_lstm.errors import DataError


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame; a column name given twice in its header is refused."""
    csv = path.suffix.lower() == ".csv"
    try:
        if not csv:
            import pyarrow.parquet as pq  # pandas' Parquet engine

            # read as written: pyarrow refuses a repeated name with its whole schema, over many lines
            refuse_duplicate_names(list(pq.read_schema(path).names), str(path))
            return pd.read_parquet(path)
        frame = pd.read_csv(path)
        # pandas renames a repeated name ('x', 'x' -> 'x', 'x.1'): read the header line as data to see it as written
        header = pd.read_csv(path, header=None, nrows=1, dtype=str).iloc[0].tolist()
    except DataError:
        raise
    except Exception as err:  # pandas raises many types for a bad file; some span lines (a schema): keep the first
        first = (str(err).strip().splitlines() or [""])[0]
        raise DataError(f"cannot read {path}: {type(err).__name__}: {first}") from None
    refuse_duplicate_names([name for name in header if isinstance(name, str)], str(path),
                            " in the header; pandas would read the second as '{0}.1', so data.features or "
                            "data.target could pick either")
    return frame


def refuse_duplicate_names(names: list, source: str, why: str = "") -> None:
    """Raise naming the first column name given more than once (``why``: a format string of the name)."""
    seen: dict = {}  # name -> its 1-based column numbers
    for number, name in enumerate(names, 1):
        seen.setdefault(name, []).append(number)
    for name, numbers in seen.items():
        if len(numbers) > 1:
            raise DataError(
                f"{source}: column name {name!r} appears {len(numbers)} times (columns "
                f"{', '.join(map(str, numbers))}){why.format(name)}; give each column a name of its own"
            )
