"""Read CSV bytes a user dropped: find the text encoding and the delimiter, then parse with Polars.

Encodings: a byte-order mark decides (UTF-8, UTF-16 and UTF-32, either byte order); then
ASCII and UTF-8 (checked without copying the data for ASCII); UTF-16 without a mark (from the
pattern of zero bytes); otherwise Windows-1252, and Latin-1 for the few bytes 1252 leaves
undefined. Anything else with zero bytes is binary and refused. Delimiters: whichever of
``, ; tab |`` splits the first lines into the most columns, consistently.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from engines.tables.errors import TableError

__all__ = ["CsvFormat", "decode_to_utf8", "detect_format", "read_csv_bytes", "scan_csv_file"]

_DELIMITERS = (",", ";", "\t", "|")
_SAMPLE_BYTES = 64 * 1024
_SAMPLE_LINES = 50
_INFER_ROWS = 10_000
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_DECIMAL_COMMA = re.compile(r"(?:^|;)\s*-?\d+,\d+\s*(?:;|$)", re.MULTILINE)


@dataclass(frozen=True)
class CsvFormat:
    """What was detected: the text encoding, the delimiter, and whether decimals use commas."""

    encoding: str
    delimiter: str
    decimal_comma: bool = False


def _utf16_without_bom(sample: bytes) -> str | None:
    even, odd = sample[0::2], sample[1::2]
    if len(sample) < 4:
        return None
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


_BINARY = "This file contains binary data, not text. Upload a CSV (comma, semicolon or tab separated)."


def decode_to_utf8(data: bytes) -> tuple[bytes, str]:
    """``(utf-8 bytes without a BOM, detected encoding)``; ``TableError`` for binary data."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            if encoding == "utf-8":
                return body, "utf-8-sig"
            return _transcode(body, encoding), encoding
    if data.isascii():
        if b"\x00" in data[:_SAMPLE_BYTES]:
            utf16 = _utf16_without_bom(data[:_SAMPLE_BYTES])
            if utf16 is None:
                raise TableError(_BINARY)
            return _transcode(data, utf16), utf16
        return data, "ascii"
    utf16 = _utf16_without_bom(data[:_SAMPLE_BYTES])
    if utf16:
        return _transcode(data, utf16), utf16
    if b"\x00" in data[:_SAMPLE_BYTES]:
        raise TableError(_BINARY)
    try:
        data.decode("utf-8")
        return data, "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252").encode("utf-8"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1").encode("utf-8"), "latin-1"


def _transcode(data: bytes, encoding: str) -> bytes:
    try:
        return data.decode(encoding).encode("utf-8")
    except UnicodeDecodeError as exc:
        raise TableError(
            f"The file starts like {encoding.upper()} text but byte {exc.start} is not valid "
            f"{encoding.upper()}. Save it again as UTF-8 CSV."
        ) from exc


def _sample_lines(text: str, truncated: bool) -> list[str]:
    lines = text.splitlines()
    if truncated and len(lines) > 1:
        lines = lines[:-1]  # the cut may fall inside the last line
    return [line for line in lines if line.strip()][:_SAMPLE_LINES]


def _score(lines: list[str], delimiter: str) -> tuple[int, int]:
    try:
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
    except csv.Error:
        return 0, 0
    if not counts:
        return 0, 0
    mode = max(set(counts), key=counts.count)
    return (counts.count(mode), mode) if mode > 1 else (0, 1)


def detect_format(sample: bytes, encoding: str, truncated: bool) -> CsvFormat:
    """Pick the delimiter that splits the sample's lines into the most columns the most consistently."""
    text = sample.decode("utf-8", errors="replace")
    lines = _sample_lines(text, truncated)
    best = max(_DELIMITERS, key=lambda d: (_score(lines, d), -_DELIMITERS.index(d)))
    if _score(lines, best)[1] <= 1:
        best = ","
    decimal_comma = best == ";" and bool(_DECIMAL_COMMA.search("\n".join(lines[1:])))
    return CsvFormat(encoding, best, decimal_comma)


def _ragged_line(text: bytes, delimiter: str) -> str:
    """Where a ragged file first breaks: "line N has M fields; the header has K"."""
    reader = csv.reader(io.StringIO(text.decode("utf-8", errors="replace")), delimiter=delimiter)
    header = next(reader, [])
    for number, row in enumerate(reader, start=2):
        if row and len(row) != len(header):
            return f"line {number} has {len(row)} fields; the header has {len(header)}"
    return "a row's fields do not match the header"


def read_csv_bytes(data: bytes, name: str) -> tuple[pl.DataFrame, CsvFormat]:
    """Parse a whole upload; raises ``TableError`` saying what to fix (empty, not a table, unparsable)."""
    if not data.strip():
        raise TableError(f"'{name}' is empty. Upload a CSV with a header line and at least one row.")
    text, encoding = decode_to_utf8(data)
    if not text.strip():
        raise TableError(f"'{name}' is empty. Upload a CSV with a header line and at least one row.")
    fmt = detect_format(text[:_SAMPLE_BYTES], encoding, truncated=len(text) > _SAMPLE_BYTES)
    frame = _parse(text, fmt, name)
    if frame.height == 0:
        raise TableError(f"'{name}' has a header but no rows.")
    return frame, fmt


def _read(text: bytes, fmt: CsvFormat, infer_rows: int | None) -> pl.DataFrame:
    """Polars' CSV reader with the detected format; ``infer_rows`` None guesses types from every row."""
    return pl.read_csv(
        io.BytesIO(text),
        separator=fmt.delimiter,
        decimal_comma=fmt.decimal_comma,
        try_parse_dates=False,
        infer_schema_length=infer_rows,
    )


def _parse(text: bytes, fmt: CsvFormat, name: str) -> pl.DataFrame:
    try:
        return _read(text, fmt, _INFER_ROWS)
    except pl.exceptions.NoDataError as exc:
        raise TableError(f"'{name}' holds no data.") from exc
    except pl.exceptions.ComputeError as exc:
        message = str(exc)
        if "more fields" in message or "fewer fields" in message:
            raise TableError(
                f"'{name}' is not consistent CSV: {_ragged_line(text, fmt.delimiter)}. "
                "Fix that row (or quote values that contain the delimiter) and upload again."
            ) from exc
        if "could not parse" not in message:
            raise TableError(f"'{name}' could not be read as CSV: {message.splitlines()[0]}") from exc
    try:  # a value late in the file does not fit the type guessed from the first rows: look at every row
        return _read(text, fmt, None)
    except pl.exceptions.PolarsError as exc:
        raise TableError(f"'{name}' could not be read as CSV: {str(exc).splitlines()[0]}") from exc


def scan_csv_file(path: Path) -> tuple[pl.LazyFrame, CsvFormat]:
    """A lazy scan of a large local CSV (nothing is read beyond a 64 KB sample and the header).

    Polars scans UTF-8 only, so other encodings are refused with a message to convert them.
    """
    with open(path, "rb") as handle:
        sample = handle.read(_SAMPLE_BYTES)
    if not sample.strip():
        raise TableError(f"'{path.name}' is empty.")
    wide = next((enc for bom, enc in _BOMS if sample.startswith(bom)), None) or _utf16_without_bom(sample)
    if len(sample) == _SAMPLE_BYTES and b"\n" in sample and wide in (None, "utf-8"):
        sample = sample[: sample.rindex(b"\n") + 1]  # never cut a multi-byte character in two
    text, encoding = decode_to_utf8(sample)
    if encoding not in ("ascii", "utf-8", "utf-8-sig"):
        raise TableError(
            f"'{path.name}' is {encoding.upper()} text; large files are read lazily as UTF-8 only. "
            "Save it as UTF-8 CSV and open it again."
        )
    fmt = detect_format(text, encoding, truncated=True)
    frame = pl.scan_csv(
        path, separator=fmt.delimiter, decimal_comma=fmt.decimal_comma, infer_schema_length=_INFER_ROWS
    )
    try:
        frame.collect_schema()
    except pl.exceptions.PolarsError as exc:
        raise TableError(f"'{path.name}' could not be read as CSV: {str(exc).splitlines()[0]}") from exc
    return frame, fmt
