"""Read one stream out of an OLE2 compound file (the container of .xls and .et workbooks).

Only what the .xls damage scan needs: the sector allocation table, the directory, and the chains
of a stream in ordinary or mini sectors. A hostile file cannot make this loop or read past its end:
every chain is bounded by the number of sectors the file has, every offset is checked.
"""

from __future__ import annotations

import struct

__all__ = ["CompoundFileError", "read_stream"]

MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_END_OF_CHAIN = 0xFFFFFFFE
_FREE = 0xFFFFFFFF
_MINI_SECTOR = 64


class CompoundFileError(ValueError):
    """The compound file is damaged, or holds no such stream."""


def read_stream(data: bytes, names: tuple[str, ...]) -> bytes:
    """The content of the first stream called one of ``names`` (compared ignoring case)."""
    if not data.startswith(MAGIC) or len(data) < 512:
        raise CompoundFileError("not a compound file")
    sector_shift, mini_shift = struct.unpack_from("<HH", data, 0x1E)
    if sector_shift not in (9, 12) or mini_shift != 6:
        raise CompoundFileError("unknown sector size")
    size = 1 << sector_shift
    n_fat, first_dir = struct.unpack_from("<II", data, 0x2C)
    cutoff, first_mini_fat, n_mini_fat, first_difat, n_difat = struct.unpack_from("<IIIII", data, 0x38)
    n_sectors = max((len(data) - size) // size, 0)

    def sector(n: int) -> bytes:
        if n >= n_sectors:
            raise CompoundFileError(f"sector {n} is past the end of the file")
        start = (n + 1) * size
        return data[start : start + size]

    fat_sectors = list(struct.unpack_from("<109I", data, 0x4C))
    next_difat, seen = first_difat, 0
    while next_difat not in (_END_OF_CHAIN, _FREE) and seen < n_difat:
        block = struct.unpack(f"<{size // 4}I", sector(next_difat))
        fat_sectors += block[:-1]
        next_difat, seen = block[-1], seen + 1
    fat: list[int] = []
    for n in fat_sectors[:n_fat]:
        fat += struct.unpack(f"<{size // 4}I", sector(n))

    def chain(start: int, table: list[int], limit: int) -> list[int]:
        out: list[int] = []
        while start not in (_END_OF_CHAIN, _FREE):
            if start >= len(table) or len(out) > limit:
                raise CompoundFileError("a sector chain is broken")
            out.append(start)
            start = table[start]
        return out

    directory = b"".join(sector(n) for n in chain(first_dir, fat, n_sectors))
    entries = [directory[i : i + 128] for i in range(0, len(directory) - 127, 128)]
    if not entries:
        raise CompoundFileError("no directory")
    wanted = {n.casefold() for n in names}
    for entry in entries:
        name_len = struct.unpack_from("<H", entry, 0x40)[0]
        name = entry[: max(name_len - 2, 0)].decode("utf-16-le", "replace")
        if entry[0x42] != 2 or name.casefold() not in wanted:
            continue
        start, length = struct.unpack_from("<II", entry, 0x74)
        if length >= cutoff:
            body = b"".join(sector(n) for n in chain(start, fat, n_sectors))
        else:
            root = entries[0]
            mini_stream = b"".join(sector(n) for n in chain(struct.unpack_from("<I", root, 0x74)[0], fat, n_sectors))
            mini_fat: list[int] = []
            for n in chain(first_mini_fat, fat, n_sectors)[:n_mini_fat]:
                mini_fat += struct.unpack(f"<{size // 4}I", sector(n))
            pieces = chain(start, mini_fat, len(mini_stream) // _MINI_SECTOR)
            body = b"".join(mini_stream[n * _MINI_SECTOR : (n + 1) * _MINI_SECTOR] for n in pieces)
        if len(body) < length:
            raise CompoundFileError("a stream is shorter than its directory entry says")
        return body[:length]
    raise CompoundFileError(f"no stream {names[0]}")
