"""Receive a multipart upload straight into the private folder, counting bytes as they arrive.

Starlette's own form parser spools files into the system's temporary folder and learns the size only
at the end; this one writes the ``file`` part into ``UploadStore`` as it streams and stops at the limit
(413) without reading the rest, so an oversized or endless upload costs neither memory nor disk.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header

from .uploads import UploadStore, shown_name, stored_suffix

MAX_FIELD_BYTES = 1000
"""Text fields (``operation``, ``sheet``) are short; a longer one is refused."""
MAX_PARTS = 8
ENVELOPE_BYTES = 64 * 1024
"""Room for the multipart boundaries, part headers and text fields around the file itself."""


class Refused(Exception):
    """A request refused (an upload, a body, a parameter): the HTTP status and one line saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Upload:
    """A received upload: where it is stored, the client's name (for display only), the text fields."""

    path: Path
    name: str
    size: int
    fields: dict[str, str] = field(default_factory=dict)


def too_large(limit: int) -> Refused:
    """The 413 answer, naming the limit and how to raise it."""
    return Refused(413, f"the file is larger than the upload limit of {limit // (1024 * 1024)} MB; "
                            "start batchops serve with a larger --max-upload-mb.")


class _Collector:
    """The parser's callbacks: one file part into a stored file, text parts into ``fields``."""

    def __init__(self, store: UploadStore, limit: int) -> None:
        self.store = store
        self.limit = limit
        self.fields: dict[str, str] = {}
        self.file: Upload | None = None
        self.parts = 0
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._handle: IO[bytes] | None = None
        self._text = bytearray()
        self._size = 0
        self.error: Refused | None = None

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._add("_header_field", d[s:e]),
            "on_header_value": lambda d, s, e: self._add("_header_value", d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _add(self, name: str, data: bytes) -> None:
        setattr(self, name, getattr(self, name) + data)

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise Refused(400, "the upload has too many parts; send one file and its options.")
        self._headers, self._name, self._text, self._size = {}, None, bytearray(), 0

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = self._header_value = b""

    def _headers_finished(self) -> None:
        disposition, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        if disposition != b"form-data" or b"name" not in params:
            raise Refused(400, "a part of the upload has no form-data name.")
        self._name = params[b"name"].decode("utf-8", "replace")
        if self._name == "file":
            if self.file is not None:
                raise Refused(400, "send one file per upload.")
            client_name = params.get(b"filename", b"upload").decode("utf-8", "replace")
            path = self.store.new_folder() / f"upload{stored_suffix(client_name)}"
            self._handle = path.open("xb")
            self.file = Upload(path=path, name=shown_name(client_name), size=0)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._handle is not None:
            self._size += len(chunk)
            if self._size > self.limit:
                raise too_large(self.limit)
            self._handle.write(chunk)
        else:
            self._text += chunk
            if len(self._text) > MAX_FIELD_BYTES:
                raise Refused(400, f"the field '{self._name}' is too long.")

    def _part_end(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
            assert self.file is not None
            self.file.size = self._size
        elif self._name is not None:
            self.fields[self._name] = self._text.decode("utf-8", "replace").strip()

    def abort(self) -> None:
        """Close and delete a half-written file."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self.file is not None:
            shutil.rmtree(self.file.path.parent, ignore_errors=True)
            self.file = None


async def receive_upload(headers: dict[str, str], body: AsyncIterator[bytes], store: UploadStore,
                         limit: int) -> Upload:
    """Stream a ``multipart/form-data`` body into ``store``; raises ``Refused`` (400, 411, 413, 415)."""
    content_type, params = parse_options_header(headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise Refused(415, "send the file as multipart/form-data in a field named 'file'.")
    length_text = headers.get("content-length")
    if length_text is not None and length_text.isdigit() and int(length_text) > limit + ENVELOPE_BYTES:
        raise too_large(limit)
    collector = _Collector(store, limit)
    parser = MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]  # a TypedDict of callables
    received = 0
    try:
        async for chunk in body:
            received += len(chunk)
            if received > limit + ENVELOPE_BYTES:
                raise too_large(limit)
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError:
        collector.abort()
        raise Refused(400, "the upload is not well-formed multipart/form-data.") from None
    except BaseException:
        collector.abort()
        raise
    if collector.file is None:
        raise Refused(400, "the upload has no field named 'file'.")
    collector.file.fields = collector.fields
    return collector.file
