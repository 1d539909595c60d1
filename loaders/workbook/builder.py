"""Sheets under construction: cells kept sparsely, every addition checked against the limits."""

from __future__ import annotations

from pathlib import Path

from loaders.workbook.raw import (
    MAX_COLUMNS,
    CellValue,
    Limits,
    RawCell,
    RawSheet,
    WorkbookError,
    column_letter,
    column_letters,
    nb_int,
)

# --- sheets under construction, with the limits -------------------------------


class Budget:
    """The cell limit spans every sheet of a workbook, so it is shared."""

    def __init__(self, path: Path, limits: Limits) -> None:
        self.path = path
        self.limits = limits
        self.cells = 0
        self.merged = 0

    def take(self, count: int, sheet: str, row: int) -> None:
        self.cells += count
        if self.cells > self.limits.max_cells:
            raise too_many_cells(self.path, self.limits, sheet, row)


def too_many_cells(path: Path, limits: Limits, sheet: str, row: int) -> WorkbookError:
    return WorkbookError(
        path,
        f"arbeidsboken har mer enn {nb_int(limits.max_cells)} celler "
        f"(grensen ble nådd i arket «{sheet}», rad {row})",
        f"the workbook has more than {limits.max_cells:,} cells "
        f"(the limit was reached in sheet '{sheet}', row {row})",
        sheet=sheet,
        row=row,
    )


def too_many_rows(path: Path, limits: Limits, sheet: str, row: int) -> WorkbookError:
    return WorkbookError(
        path,
        f"arket «{sheet}» har data i rad {nb_int(row)}, forbi grensen på "
        f"{nb_int(limits.max_rows)} rader",
        f"sheet '{sheet}' has data in row {row:,}, beyond the limit of {limits.max_rows:,} rows",
        sheet=sheet,
        row=row,
    )


def too_many_columns(path: Path, sheet: str, row: int, column: int) -> WorkbookError:
    return WorkbookError(
        path,
        f"arket «{sheet}» har data i kolonne nummer {nb_int(column)} i rad {row}, "
        f"forbi den siste kolonnen XFD ({nb_int(MAX_COLUMNS)})",
        f"sheet '{sheet}' has data in column number {column:,} of row {row}, "
        f"beyond the last column XFD ({MAX_COLUMNS:,})",
        sheet=sheet,
        row=row,
        column=column,
    )


def too_many_sheets(path: Path, limits: Limits, count: int) -> WorkbookError:
    return WorkbookError(
        path,
        f"arbeidsboken har {count} ark, mer enn grensen på {limits.max_sheets}",
        f"the workbook has {count} sheets, more than the limit of {limits.max_sheets}",
    )


_Entry = tuple[CellValue, str | None, str | None]  # value, error, merged_from


class SheetBuilder:
    """Collects non-empty cells sparsely and counts what the dense rows will cost.

    Sparse while reading because merged ranges are filled in afterwards; every
    addition is checked against the limits at once, so a hostile file stops
    being read as soon as it crosses one, not after it has been held in memory.
    """

    def __init__(self, name: str, hidden: bool, budget: Budget) -> None:
        self.name = name
        self.hidden = hidden
        self._budget = budget
        self._cells: dict[int, dict[int, _Entry]] = {}
        self._widths: dict[int, int] = {}
        self._merges: list[tuple[int, int, int, int]] = []

    def add(
        self,
        row: int,
        column: int,
        value: CellValue,
        error: str | None = None,
        merged_from: str | None = None,
    ) -> None:
        if value == "":
            value = None
        if value is None and error is None:
            return
        self._put(row, column, (value, error, merged_from))

    def add_row(self, row: int, entries: dict[int, _Entry]) -> None:
        """Non-empty cells of one row (column → value, error, merged_from), all at once.

        The same checks as ``add`` for each, made once for the row's last column: a
        call per cell was a tenth of reading a workbook.
        """
        if not entries:
            return
        self._reach(row, max(entries))
        cells = self._cells.get(row)
        if cells is None:
            self._cells[row] = entries
        else:
            cells.update(entries)

    def _put(self, row: int, column: int, entry: _Entry) -> None:
        """Store one cell; one tuple may serve a whole merged range, so it is passed whole."""
        self._reach(row, column)
        self._cells.setdefault(row, {})[column] = entry

    def _reach(self, row: int, column: int) -> None:
        """Check a cell's place against the limits; the row's width grows to it, on budget."""
        limits = self._budget.limits
        if row > limits.max_rows:
            raise too_many_rows(self._budget.path, limits, self.name, row)
        if column > MAX_COLUMNS:
            raise too_many_columns(self._budget.path, self.name, row, column)
        width = self._widths.get(row, 0)
        if column > width:
            self._budget.take(column - width, self.name, row)
            self._widths[row] = column

    def merge(self, first_row: int, first_column: int, last_row: int, last_column: int) -> None:
        self._merges.append((first_row, first_column, last_row, last_column))

    def build(self) -> RawSheet:
        self._fill_merges()
        rows: list[list[RawCell]] = []
        empty: _Entry = (None, None, None)
        # Every field given, so the tuple is made directly: the named tuple's own __new__ is
        # a Python function, and a call of it per cell was half the cost of making a cell.
        new = tuple.__new__
        for row_number in sorted(self._cells):
            get = self._cells[row_number].get
            width = self._widths[row_number]
            letters = column_letters(width)
            dense: list[RawCell] = []
            for column in range(1, width + 1):
                value, error, merged_from = get(column, empty)
                fields = (value, row_number, column, letters[column], error, merged_from)
                dense.append(new(RawCell, fields))
            rows.append(dense)
        return RawSheet(self.name, self.hidden, rows)

    def _fill_merges(self) -> None:
        """The top-left value of a merged range applies to every cell of it.

        Anchors are read before any filling so overlapping ranges in a damaged
        file cannot copy copies; a range with an empty anchor fills nothing, and
        every filled cell passes the limits, so a range of a billion cells costs
        at most the cell limit.
        """
        anchors = [(merge, self._cells.get(merge[0], {}).get(merge[1])) for merge in self._merges]
        for (first_row, first_column, last_row, last_column), anchor in anchors:
            if anchor is None:
                continue
            value, error, _ = anchor
            if value is None and error is None:
                continue
            # Cells already counted cost no budget when filled again, so overlapping
            # ranges are bounded by their total area instead.
            self._budget.merged += (last_row - first_row + 1) * (last_column - first_column + 1)
            if self._budget.merged > self._budget.limits.max_cells:
                limits = self._budget.limits
                raise too_many_cells(self._budget.path, limits, self.name, first_row)
            copy: _Entry = (value, error, f"{column_letter(first_column)}{first_row}")
            for row in range(first_row, last_row + 1):
                for column in range(first_column, last_column + 1):
                    if (row, column) != (first_row, first_column):
                        self._put(row, column, copy)
