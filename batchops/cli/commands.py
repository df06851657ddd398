"""Imports every command module so that each registers its commands on the app."""

from __future__ import annotations

from . import (
    apply_cmd,  # noqa: F401
    audit_cmd,  # noqa: F401
    demo_cmd,  # noqa: F401
    export_cmd,  # noqa: F401
    info,  # noqa: F401
    plan_cmd,  # noqa: F401
    sandbox_cmd,  # noqa: F401
    serve_cmd,  # noqa: F401
    template_cmd,  # noqa: F401
    undo_cmd,  # noqa: F401
    validate_cmd,  # noqa: F401
)
