"""Imports every command module so that each registers its commands on the app."""

from __future__ import annotations

from . import info  # noqa: F401
from . import sandbox_cmd  # noqa: F401
from . import validate_cmd  # noqa: F401
from . import apply_cmd  # noqa: F401
from . import template_cmd  # noqa: F401
from . import demo_cmd  # noqa: F401
from . import export_cmd  # noqa: F401
from . import audit_cmd  # noqa: F401
from . import undo_cmd  # noqa: F401
from . import plan_cmd  # noqa: F401
