"""A grep-style scan of a folder tree for identifier strings, looking inside compressed tables.

Parquet and DuckDB files are read and every value is scanned as text (their pages are
compressed, so a byte grep alone would find nothing even when a value leaked); everything else
except PNG is scanned as bytes; file and folder names are scanned too.

A digit identifier (a birth date ``19600728``, a numeric MRN) counts only where no other digit
touches it: inside a pseudonymous UID's 39 digits (``2.25.…1960072866…``) it is chance, not a
leak (with ~100 birth dates and ~2,000 UIDs a demo run meets one such chance in about 20), and
the blocking check of ``cadbusi_assets.deid.scan`` treats digits the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import polars as pl


def _without_binary(frame: pl.DataFrame) -> pl.DataFrame:
    """Binary columns hold image bytes (like the PNG files, not scanned as text); struct
    columns are flattened so that their text fields are scanned."""
    columns = []
    for column in frame.iter_columns():
        if column.dtype == pl.Binary:
            continue
        if isinstance(column.dtype, pl.Struct):
            inner = _without_binary(column.struct.unnest())
            columns += [c.alias(f"{column.name}.{c.name}") for c in inner.iter_columns()]
        else:
            columns.append(column)
    return pl.DataFrame(columns)


def _texts(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        return [_without_binary(pl.read_parquet(path)).write_ndjson()]
    if path.suffix == ".duckdb":
        con = duckdb.connect(str(path), read_only=True)
        try:
            tables = [
                r[0]
                for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
            ]
            return [con.sql(f'SELECT * FROM "{t}"').pl().write_ndjson() for t in tables]
        finally:
            con.close()
    if path.suffix == ".png":
        return []
    return [path.read_bytes().decode("latin-1")]


def find_identifiers(root: Path, identifiers: list[str]) -> list[str]:
    """``"<relative path>: <identifier>"`` for every identifier found (case-insensitive)."""
    needles = sorted({i.lower() for i in identifiers if len(i) >= 4})
    patterns = {needle: _pattern(needle) for needle in needles}
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        haystacks = [rel.lower(), *(t.lower() for t in _texts(path))]
        for needle in needles:
            if any(needle in h and patterns[needle].search(h) for h in haystacks):
                found.append(f"{rel}: {needle}")
    return found


def _pattern(needle: str) -> re.Pattern[str]:
    """``needle`` where no digit continues a digit at either end."""
    before = r"(?<![0-9])" if needle[0].isdigit() else ""
    after = r"(?![0-9])" if needle[-1].isdigit() else ""
    return re.compile(before + re.escape(needle) + after)
