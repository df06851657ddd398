"""Environment variables as lines a shell takes as they are: POSIX shells, PowerShell and cmd.

``batchops sandbox`` prints its settings this way, so that pasting its output into the terminal batchops
runs in points batchops at it. Every line is either a command or a comment in the chosen shell, so the
whole block can be pasted, the comments included.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping

SHELLS = ("posix", "powershell", "cmd")
"""``posix``: sh, bash, zsh (Linux, macOS); ``powershell`` and ``cmd``: Windows."""


def default_shell() -> str:
    """PowerShell on Windows (its default terminal), a POSIX shell elsewhere."""
    return "powershell" if os.name == "nt" else "posix"


def comment(shell: str, text: str) -> str:
    """A line the shell ignores."""
    return f"rem {text}" if shell == "cmd" else f"# {text}"


def set_line(shell: str, name: str, value: str) -> str:
    """The command that sets ``name`` to ``value`` for the commands run after it in the same window."""
    if shell == "posix":
        return f"export {name}={shlex.quote(value)}"
    if shell == "powershell":
        return f"$env:{name} = '{value.replace(chr(39), chr(39) * 2)}'"  # '' is a quote inside '…'
    if shell == "cmd":
        return f'set "{name}={value}"'  # the quotes keep & | < > ^ in the value, and no trailing space
    raise ValueError(f"unknown shell {shell!r}; one of {', '.join(SHELLS)}")


def env_lines(shell: str, env: Mapping[str, str]) -> list[str]:
    """One ``set_line`` per variable, in order."""
    return [set_line(shell, name, value) for name, value in env.items()]
