"""The sandbox is a second, independent reading of the API pages: it imports nothing from the rest of
batchops, not even its errors, so it cannot share the client's mistakes."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SANDBOX = Path(__file__).resolve().parents[1] / "batchops" / "sandbox"


def test_no_sandbox_module_imports_from_the_rest_of_batchops():
    found = []
    for path in sorted(SANDBOX.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                name = node.module or ""
                outside = node.level > 1 or (node.level == 0 and name.startswith("batchops")
                                             and not name.startswith("batchops.sandbox"))
            elif isinstance(node, ast.Import):
                outside = any(a.name.startswith("batchops") and not a.name.startswith("batchops.sandbox")
                              for a in node.names)
            else:
                continue
            if outside:
                found.append(f"{path.name}:{node.lineno}")
    assert found == []


def test_a_running_sandbox_loads_no_other_batchops_module():
    code = ("import sys\n"
            "import batchops\n"
            "def ours():\n"
            "    return {m for m in sys.modules if m.startswith('batchops') and not m.startswith('batchops.sandbox')}\n"
            "package = ours()\n"
            "from batchops.sandbox import SandboxOptions, start_sandbox\n"
            "with start_sandbox(SandboxOptions(agents=5)) as sb:\n"
            "    import urllib.request\n"
            "    urllib.request.urlopen(sb.url + '/_sandbox/health').read()\n"
            "print(' '.join(sorted(ours() - package)) or 'none')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["none"]  # beyond what the package's own __init__ loads (it loads no library module)
