"""A zip writer that copies untouched parts of an xlsx package byte for byte.

Rewriting a workbook with the standard ``zipfile`` inflates and deflates every part again; for a
100,000-row sheet that alone costs seconds. Here an unchanged part's compressed bytes are copied as
they are (its CRC and sizes are already known), and only new or edited parts are deflated, streamed
from an iterator of chunks so a large generated sheet never sits in memory.

No ZIP64: a part or package past 4 GiB is refused (no spreadsheet a person edits comes near it).
"""

from __future__ import annotations

import struct
import time
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_END = struct.Struct("<4sHHHHIIH")
_LIMIT = 0xFFFFFFFF
_FLAG_DATA_DESCRIPTOR = 0x08
_FLAG_UTF8 = 0x800
_COPY_CHUNK = 1 << 20


class ZipLimitError(ValueError):
    """The package needs ZIP64 or holds an encrypted part; this writer does not handle either."""


def _dos_time(date_time: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    year, month, day, hour, minute, second = date_time
    year = max(year, 1980)
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


@dataclass
class _Entry:
    name: bytes
    flags: int
    method: int
    dos_time: int
    dos_date: int
    crc: int
    csize: int
    usize: int
    offset: int


class RawZipReader:
    """A zip opened for both ordinary reading and raw copying of compressed parts."""

    def __init__(self, fileobj: BinaryIO) -> None:
        self._raw = fileobj
        self.zip = zipfile.ZipFile(fileobj)
        for info in self.zip.infolist():
            if info.flag_bits & 0x1:
                raise ZipLimitError(f"part {info.filename} is encrypted")
            if max(info.compress_size, info.file_size, info.header_offset) >= _LIMIT:
                raise ZipLimitError(f"part {info.filename} is too large (ZIP64)")

    def infolist(self) -> list[zipfile.ZipInfo]:
        """The parts in the order they are stored."""
        return self.zip.infolist()

    def raw_chunks(self, info: zipfile.ZipInfo) -> Iterator[bytes]:
        """The part's compressed bytes exactly as stored."""
        self._raw.seek(info.header_offset)
        header = self._raw.read(_LOCAL.size)
        fields = _LOCAL.unpack(header)
        if fields[0] != b"PK\x03\x04":
            raise zipfile.BadZipFile(f"bad local header for {info.filename}")
        self._raw.seek(fields[9] + fields[10], 1)  # skip name and extra field
        left = info.compress_size
        while left:
            chunk = self._raw.read(min(left, _COPY_CHUNK))
            if not chunk:
                raise zipfile.BadZipFile(f"part {info.filename} is truncated")
            left -= len(chunk)
            yield chunk


class RawZipWriter:
    """Writes a zip to a seekable file: raw copies of existing parts and freshly deflated ones."""

    def __init__(self, fileobj: BinaryIO, *, level: int = 6) -> None:
        self._f = fileobj
        self._level = level
        self._entries: list[_Entry] = []
        self._names: set[str] = set()

    def _start(self, name: str) -> bytes:
        if name in self._names:
            raise ValueError(f"duplicate part {name}")
        self._names.add(name)
        return name.encode("utf-8")

    def _write_local(self, e: _Entry) -> None:
        self._f.write(
            _LOCAL.pack(
                b"PK\x03\x04",
                20,
                e.flags,
                e.method,
                e.dos_time,
                e.dos_date,
                e.crc,
                e.csize,
                e.usize,
                len(e.name),
                0,
            )
        )
        self._f.write(e.name)

    def copy(self, reader: RawZipReader, info: zipfile.ZipInfo) -> None:
        """Copy a part from ``reader`` without inflating it."""
        name = self._start(info.filename)
        dos_time, dos_date = _dos_time(info.date_time)
        flags = (info.flag_bits & ~_FLAG_DATA_DESCRIPTOR) | (_FLAG_UTF8 if not name.isascii() else 0)
        entry = _Entry(
            name,
            flags,
            info.compress_type,
            dos_time,
            dos_date,
            info.CRC,
            info.compress_size,
            info.file_size,
            self._f.tell(),
        )
        self._write_local(entry)
        for chunk in reader.raw_chunks(info):
            self._f.write(chunk)
        self._entries.append(entry)

    def write(self, name: str, chunks: Iterable[bytes], *, level: int | None = None) -> None:
        """Deflate ``chunks`` into a new part, streaming; the header is patched once sizes are known."""
        raw_name = self._start(name)
        dos_time, dos_date = _dos_time(time.localtime()[:6])
        entry = _Entry(
            raw_name,
            _FLAG_UTF8 if not raw_name.isascii() else 0,
            zipfile.ZIP_DEFLATED,
            dos_time,
            dos_date,
            0,
            0,
            0,
            self._f.tell(),
        )
        self._write_local(entry)
        comp = zlib.compressobj(self._level if level is None else level, zlib.DEFLATED, -15)
        crc = usize = csize = 0
        pending: list[bytes] = []
        pending_len = 0
        # Small chunks are gathered first: zlib and file calls per tiny chunk are what cost time.
        for chunk in chunks:
            pending.append(chunk)
            pending_len += len(chunk)
            if pending_len >= 256 * 1024:
                block = b"".join(pending)
                pending, pending_len = [], 0
                crc = zlib.crc32(block, crc)
                usize += len(block)
                out = comp.compress(block)
                csize += len(out)
                self._f.write(out)
        block = b"".join(pending)
        crc = zlib.crc32(block, crc)
        usize += len(block)
        out = comp.compress(block) + comp.flush()
        csize += len(out)
        self._f.write(out)
        if max(usize, csize, entry.offset) >= _LIMIT:
            raise ZipLimitError(f"part {name} is too large (ZIP64)")
        entry.crc, entry.csize, entry.usize = crc, csize, usize
        end = self._f.tell()
        self._f.seek(entry.offset)
        self._write_local(entry)
        self._f.seek(end)
        self._entries.append(entry)

    def close(self) -> None:
        """Write the central directory; the caller closes the file."""
        start = self._f.tell()
        for e in self._entries:
            self._f.write(
                _CENTRAL.pack(
                    b"PK\x01\x02",
                    20,
                    20,
                    e.flags,
                    e.method,
                    e.dos_time,
                    e.dos_date,
                    e.crc,
                    e.csize,
                    e.usize,
                    len(e.name),
                    0,
                    0,
                    0,
                    0,
                    0,
                    e.offset,
                )
            )
            self._f.write(e.name)
        end = self._f.tell()
        if end >= _LIMIT or len(self._entries) >= 0xFFFF:
            raise ZipLimitError("the package is too large (ZIP64)")
        n = len(self._entries)
        self._f.write(_END.pack(b"PK\x05\x06", 0, 0, n, n, end - start, start, 0))
