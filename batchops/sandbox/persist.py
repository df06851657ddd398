"""Keeps the sandbox state in a SQLite file, so a restarted sandbox carries on where it stopped.

Every successful update writes its record and its applied count in one transaction, before the answer
is sent: a sandbox killed at any moment comes back with exactly the updates it confirmed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import SandboxError
from .seed import SeedData, StoredObject

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
                                    PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS applied (key TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StateFile:
    """One SQLite file holding every record, the applied counts and the seed that made them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            # WAL with normal sync survives a killed process (not a power cut), and costs microseconds.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise SandboxError(f"Cannot open the sandbox state file {path}: {exc}.", path=path) from exc

    def is_empty(self) -> bool:
        """True when the file holds no seeded state yet."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM meta WHERE name = 'seeded'").fetchone() is None

    def meta(self) -> dict[str, str]:
        """The file's metadata (seed, agents)."""
        with self._lock:
            return dict(self._db.execute("SELECT name, value FROM meta").fetchall())

    def write_all(self, data: SeedData, applied: dict[str, int], meta: dict[str, str]) -> None:
        """Replace the file's content with ``data`` (a fresh seed or a reset)."""
        rows = list(_rows(data))
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute("DELETE FROM records")
                self._db.execute("DELETE FROM applied")
                self._db.execute("DELETE FROM meta")
                self._db.executemany("INSERT INTO records VALUES (?, ?, ?)", rows)
                self._db.executemany("INSERT INTO applied VALUES (?, ?)", applied.items())
                self._db.executemany("INSERT INTO meta VALUES (?, ?)", [*meta.items(), ("seeded", "1")])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def save(self, kind: str, key: str, record: StoredObject, applied_key: str, applied_n: int) -> None:
        """Store one updated record and its applied count in one transaction."""
        body = json.dumps(record, ensure_ascii=False)
        with self._lock:
            self._db.execute("BEGIN")
            # An upsert keeps the rowid, so listings keep their order after a restart.
            self._db.execute(
                "INSERT INTO records VALUES (?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body",
                (kind, key, body),
            )
            self._db.execute("INSERT OR REPLACE INTO applied VALUES (?, ?)", (applied_key, applied_n))
            self._db.execute("COMMIT")

    def load(self) -> tuple[SeedData, dict[str, int]]:
        """Read every record and applied count back."""
        data = SeedData()
        with self._lock:
            rows = self._db.execute("SELECT kind, key, body FROM records ORDER BY rowid").fetchall()
            applied = dict(self._db.execute("SELECT key, n FROM applied").fetchall())
        for kind, key, body in rows:
            _restore(data, kind, key, json.loads(body))
        return data, applied

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


def _rows(data: SeedData) -> Iterable[tuple[str, str, str]]:
    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    for agent in data.agents:
        yield "agent", str(agent["workNo"]), dump(agent)
    for key, record in data.agent_settings.items():
        yield "setting", key, dump(record)
    for key, record in data.routes.items():
        yield "route", key, dump(record)
    for queue_id, name in data.skill_queues.items():
        yield "skill_queue", str(queue_id), dump(name)
    for ivr_id, name in data.ivrs.items():
        yield "ivr", str(ivr_id), dump(name)
    for key, record in data.sentences.items():
        yield "sentence", key, dump(record)
    for key, record in data.silence_rules.items():
        yield "silence_rule", key, dump(record)
    for vdn, appointments in data.appointments.items():
        yield "vdn", str(vdn), dump(vdn)
        for key, record in appointments.items():
            yield "appointment", f"{vdn}:{key}", dump(record)


def _restore(data: SeedData, kind: str, key: str, value: Any) -> None:
    if kind == "agent":
        data.agents.append(value)
    elif kind == "setting":
        data.agent_settings[key] = value
    elif kind == "route":
        data.routes[key] = value
    elif kind == "skill_queue":
        data.skill_queues[int(key)] = value
    elif kind == "ivr":
        data.ivrs[int(key)] = value
    elif kind == "sentence":
        data.sentences[key] = value
    elif kind == "silence_rule":
        data.silence_rules[key] = value
    elif kind == "vdn":
        data.appointments.setdefault(int(key), {})
    elif kind == "appointment":
        vdn, appoint_id = key.split(":", 1)
        data.appointments.setdefault(int(vdn), {})[appoint_id] = value
