"""Tabular downloads (CSV and XLSX) written row by row to a spooled temporary file, then streamed.

Rows come from an async iterator that pages through the database inside the request (the session
closes when the handler returns), so a list of any length is written with bounded memory: up to
``SPOOL_BYTES`` in memory, the rest on disk. The XLSX writer is a minimal Office Open XML package
(one sheet, inline strings, no styles) that Excel, WPS and LibreOffice open; it needs no library.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
import zipfile
from collections.abc import AsyncIterable, Iterator, Sequence
from decimal import Decimal
from typing import IO
from urllib.parse import quote
from xml.sax.saxutils import escape

from starlette.responses import StreamingResponse

Cell = str | int | Decimal | None
SPOOL_BYTES = 1024 * 1024
CHUNK_BYTES = 64 * 1024
UTF8_BOM = "\ufeff"  # so Excel opens a UTF-8 CSV with Chinese text correctly
# Characters XML 1.0 does not allow (control characters other than tab, newline, carriage return).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# A cell starting with these is a formula to a spreadsheet: quote it (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _safe_text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


async def write_csv(header: Sequence[str], rows: AsyncIterable[Sequence[Cell]]) -> IO[bytes]:
    """A UTF-8 CSV (with BOM) of ``header`` and ``rows``, rewound, ready to stream."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    text.write(UTF8_BOM)
    writer = csv.writer(text)
    writer.writerow(header)
    async for row in rows:
        writer.writerow([_safe_text(c) if isinstance(c, str) else ("" if c is None else c) for c in row])
    text.flush()
    text.detach()
    spool.seek(0)
    return spool


_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_PKG = "http://schemas.openxmlformats.org/package/2006"
_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_CONTENT_TYPES = (
    f'{_XML}<Types xmlns="{_PKG}/content-types">'
    f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_SHEET_TYPE}.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_SHEET_TYPE}.worksheet+xml"/></Types>')
_ROOT_RELS = (f'{_XML}<Relationships xmlns="{_PKG}/relationships">'
              f'<Relationship Id="rId1" Type="{_DOC}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = (f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_DOC}">'
             '<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = (f'{_XML}<Relationships xmlns="{_PKG}/relationships">'
                  f'<Relationship Id="rId1" Type="{_DOC}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
_SHEET_START = f'{_XML}<worksheet xmlns="{_MAIN}"><sheetData>'
_SHEET_END = "</sheetData></worksheet>"


def _column(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _xlsx_row(number: int, row: Sequence[Cell]) -> str:
    cells = []
    for i, value in enumerate(row):
        ref = f"{_column(i)}{number}"
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            text = escape(_XML_INVALID.sub("", str(value)))
            cells.append(f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>')
        else:
            cells.append(f'<c r="{ref}"><v>{value}</v></c>')
    return f'<row r="{number}">{"".join(cells)}</row>'


def _sheet_name(name: str) -> str:
    """Sheet names: at most 31 characters, none of []:*?/\\."""
    return escape(re.sub(r"[\[\]:*?/\\]", " ", name)[:31].strip() or "Sheet1", {'"': "&quot;"})


async def write_xlsx(sheet: str, header: Sequence[str], rows: AsyncIterable[Sequence[Cell]]) -> IO[bytes]:
    """A one-sheet XLSX workbook of ``header`` and ``rows``, rewound, ready to stream."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", _CONTENT_TYPES)
        package.writestr("_rels/.rels", _ROOT_RELS)
        package.writestr("xl/workbook.xml", _WORKBOOK.format(name=_sheet_name(sheet)))
        package.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with package.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            part.write(_SHEET_START.encode())
            part.write(_xlsx_row(1, header).encode())
            number = 1
            async for row in rows:
                number += 1
                part.write(_xlsx_row(number, row).encode())
            part.write(_SHEET_END.encode())
    spool.seek(0)
    return spool


def _chunks(file: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := file.read(CHUNK_BYTES):
            yield chunk
    finally:
        file.close()


def download(file: IO[bytes], filename: str, media_type: str) -> StreamingResponse:
    """Stream a written file as an attachment (non-ASCII file names per RFC 6266)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return StreamingResponse(_chunks(file), media_type=media_type, headers={"Content-Disposition": disposition})
