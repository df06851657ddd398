"""The sandbox's records, their applied-update counts, and their optional state file.

Writers replace a whole record (never mutate one in place) under a lock, so a test thread reading a
record sees either the old or the new version, never half of each.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from typing import Any

from .options import SandboxOptions
from .persist import StateFile
from .seed import SeedData, StoredObject, generate

# Keys of the applied counts, one per record an update can change.
KIND_SETTING = "agentsettings"
KIND_ROUTE = "route"
KIND_SILENCE = "silencerule"
KIND_APPOINTMENT = "appointment"


def record_key(kind: str, *parts: object) -> str:
    """The key a record's applied count is kept under, e.g. ``route:1125397061153369092``."""
    if len(parts) == 1:
        return f"{kind}:{parts[0]}"  # every update computes one: keep the common case cheap
    return ":".join((kind, *(str(p) for p in parts)))


class SandboxState:
    """Every record the sandbox serves, as the write calls have left them."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.lock = threading.RLock()
        self.applied: Counter[str] = Counter()
        self.loaded_from_file = False
        self.file_meta: dict[str, str] = {}
        """The seed and agent count a loaded state file was made with (its data wins over the options)."""
        self._file = StateFile(options.state_file) if options.state_file is not None else None
        if self._file is not None and not self._file.is_empty():
            data, applied = self._file.load()
            self.file_meta = self._file.meta()
            self.applied.update(applied)
            self.loaded_from_file = True
        else:
            data = generate(options)
            if self._file is not None:
                self._file.write_all(data, {}, self._meta())
        self._install(data)

    def _meta(self) -> dict[str, str]:
        return {"seed": str(self.options.seed), "agents": str(self.options.agents)}

    def _install(self, data: SeedData) -> None:
        self.data = data
        self.settings_by_user = {r["userId"]: r["id"] for r in data.agent_settings.values()}
        self.vdn_ids = tuple(sorted(data.appointments))
        self.work_nos = frozenset(str(a["workNo"]) for a in data.agents)

    def reset(self) -> None:
        """Back to the seed data, with every applied count at zero (the state file too)."""
        data = generate(self.options)
        with self.lock:
            self.applied.clear()
            self._install(data)
            if self._file is not None:
                self._file.write_all(data, {}, self._meta())

    def close(self) -> None:
        """Close the state file, if any."""
        if self._file is not None:
            self._file.close()
            self._file = None

    # -- writes ---------------------------------------------------------------------------------

    def _commit(self, kind: str, key: str, applied_key: str) -> None:
        """Count one applied update and persist the record (caller holds the lock)."""
        self.applied[applied_key] += 1
        if self._file is not None:
            record = self._lookup(kind, key)
            self._file.save(kind, key, record, applied_key, self.applied[applied_key])

    def _lookup(self, kind: str, key: str) -> StoredObject:
        if kind == "setting":
            return self.data.agent_settings[key]
        if kind == "route":
            return self.data.routes[key]
        if kind == "silence_rule":
            return self.data.silence_rules[key]
        vdn, appoint_id = key.split(":", 1)
        return self.data.appointments[int(vdn)][appoint_id]

    def put_setting(self, record: StoredObject) -> None:
        """Store an updated agent setting."""
        with self.lock:
            self.data.agent_settings[record["id"]] = record
            self._commit("setting", record["id"], record_key(KIND_SETTING, record["id"]))

    def put_route(self, record: StoredObject) -> None:
        """Store an updated called route."""
        with self.lock:
            self.data.routes[record["id"]] = record
            self._commit("route", record["id"], record_key(KIND_ROUTE, record["id"]))

    def put_silence_rule(self, record: StoredObject) -> None:
        """Store an updated silence rule."""
        with self.lock:
            self.data.silence_rules[record["silence_id"]] = record
            self._commit("silence_rule", record["silence_id"], record_key(KIND_SILENCE, record["silence_id"]))

    def put_appointment(self, vdn: int, record: StoredObject) -> None:
        """Store an updated appointment."""
        appoint_id = record["appointId"]
        with self.lock:
            self.data.appointments[vdn][appoint_id] = record
            self._commit(
                "appointment", f"{vdn}:{appoint_id}", record_key(KIND_APPOINTMENT, vdn, appoint_id)
            )

    # -- reads (the live records: copy before handing them outside the server) --------------------

    def setting(self, setting_id: str) -> StoredObject | None:
        """The agent setting with this ``id``."""
        return self.data.agent_settings.get(setting_id)

    def setting_for_user(self, user_id: str) -> StoredObject | None:
        """The agent setting of this ``userId``."""
        setting_id = self.settings_by_user.get(user_id)
        return self.data.agent_settings.get(setting_id) if setting_id is not None else None

    def route(self, route_id: str) -> StoredObject | None:
        """The called route with this ``id``."""
        return self.data.routes.get(route_id)

    def silence_rule(self, silence_id: str) -> StoredObject | None:
        """The silence rule with this ``silence_id``."""
        return self.data.silence_rules.get(silence_id)

    def appointment(self, vdn: int, appoint_id: str) -> StoredObject | None:
        """The appointment ``appoint_id`` on VDN ``vdn``."""
        return self.data.appointments.get(vdn, {}).get(appoint_id)

    def applied_counts(self) -> dict[str, int]:
        """A copy of every non-zero applied count."""
        with self.lock:
            return dict(self.applied)

    def snapshot(self, value: Any) -> Any:
        """A deep copy taken under the lock, safe to hand to another thread."""
        with self.lock:
            return copy.deepcopy(value)
