"""The private folder uploads are kept in, under names the server makes up.

The folder is made with mode 0700 (only this user), each file gets a random name with the suffix its
kind needs (the readers pick the reader from the first bytes anyway; the suffix decides where reports
are written back), and the client's file name is kept only to be shown. The folder is removed when the
server stops, unless the user asked to keep the uploads.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path

SUFFIXES = (".xlsx", ".xlsm", ".csv", ".txt", ".tsv")
"""Suffixes kept from the client's name; anything else is stored as ``.xlsx`` and left to the reader."""
DEFAULT_SUFFIX = ".xlsx"
MAX_SHOWN_NAME = 200


def stored_suffix(client_name: str) -> str:
    """The suffix a stored upload gets: the client's when it is a known spreadsheet kind."""
    suffix = Path(client_name.replace("\\", "/")).suffix.lower()
    return suffix if suffix in SUFFIXES else DEFAULT_SUFFIX


def shown_name(client_name: str) -> str:
    """The client's file name as it may be shown: its last path part, no control characters, bounded."""
    base = client_name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip()
    return (cleaned or "upload")[:MAX_SHOWN_NAME]


class UploadStore:
    """A private folder for uploads and the files made from them; ``close()`` removes it unless kept."""

    def __init__(self, root: Path | None = None, *, keep: bool = False) -> None:
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix="batchops-serve-", dir=root))
        os.chmod(self.folder, 0o700)  # mkdtemp already does; said again because it is the point
        self.keep = keep

    def new_path(self, suffix: str) -> Path:
        """A path in the folder under a fresh random name; no file is made."""
        while True:
            path = self.folder / f"{secrets.token_hex(16)}{suffix}"
            if not path.exists():
                return path

    def new_folder(self) -> Path:
        """A fresh private sub-folder (for one upload and the reports written next to it)."""
        path = self.folder / secrets.token_hex(16)
        path.mkdir(mode=0o700)
        return path

    def contains(self, path: Path) -> bool:
        """True when ``path`` lies inside the store (a guard before a file is served)."""
        try:
            path.resolve().relative_to(self.folder.resolve())
        except ValueError:
            return False
        return True

    def close(self) -> Path | None:
        """Remove the folder, or keep it and return where it is."""
        if self.keep:
            return self.folder
        shutil.rmtree(self.folder, ignore_errors=True)
        return None
