"""Files the server hands out for download, written so that opening them is safe.

Spreadsheet programs run a CSV cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or
carriage return before one) as a formula, so a value a user typed into a flow could make whoever
opens the download fetch URLs or run commands. Text cells and column names that start with one of
these characters are written with a leading ``'``, which spreadsheets show as plain text.
Numbers are left as they are: a negative number is not a formula.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["FORMULA_PREFIXES", "csv_text", "escape_formula"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_text(frame: pd.DataFrame) -> str:
    """``frame`` as CSV (without its index), text cells and column names escaped against formulas."""
    safe = frame.copy(deep=False)
    safe.columns = [escape_formula(str(c)) for c in safe.columns]
    for i in range(safe.shape[1]):
        column = safe.iloc[:, i]
        if column.dtype == object or isinstance(column.dtype, pd.StringDtype | pd.CategoricalDtype):
            safe.isetitem(i, column.astype(object).map(escape_formula))
    # CRLF line ends (RFC 4180) make the writer quote any cell holding a CR as well as an LF.
    return safe.to_csv(index=False, lineterminator="\r\n")
