"""Files the server hands out for download, written so that opening them is safe.

Spreadsheet programs run a CSV cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or
carriage return before one) as a formula, so a value a user typed into a flow could make whoever
opens the download fetch URLs or run commands. Text cells (whatever their dtype) and column
labels that start with one of these characters are written with a leading ``'``, which
spreadsheets show as plain text.
Numbers are left as they are: a negative number is not a formula.
"""

from __future__ import annotations

import pandas as pd

from flowdeck.formats import escape_formulas

__all__ = ["csv_text"]


def csv_text(frame: pd.DataFrame) -> str:
    """``frame`` as CSV (without its index), text cells and column labels escaped against formulas."""
    labelled = frame.copy(deep=False)
    labelled.columns = [str(c) for c in labelled.columns]
    # CRLF line ends (RFC 4180) make the writer quote any cell holding a CR as well as an LF.
    return escape_formulas(labelled, index=False).to_csv(index=False, lineterminator="\r\n")
