"""Every command has help text and appears in the README; the README's set-up commands exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from batchops.cli import app, run
from batchops.cli.app import load_all_commands

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
load_all_commands()  # the group loads a command's module only when it runs
COMMANDS = sorted(app.commands)


def test_there_are_commands():
    assert {"validate", "apply", "export", "template", "plan", "audit", "runs", "undo", "sandbox", "demo"} <= set(
        COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_help_text(name, capsys):
    command = app.commands[name]
    assert command.help and len(command.help.strip()) > 20
    assert run([name, "--help"]) == 0
    assert f"Usage: batchops {name}" in capsys.readouterr().out


@pytest.mark.parametrize("name", COMMANDS)
def test_command_is_in_the_readme(name):
    assert re.search(rf"batchops {name}\b", README), f"README.md does not show `batchops {name}`"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_has_help(name):
    for param in app.commands[name].params:
        if param.param_type_name == "option":
            assert getattr(param, "help", None), f"{name} {param.opts} has no help text"


def test_make_targets_in_the_readme_exist():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in set(re.findall(r"make ([a-z-]+)", README)):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"README mentions `make {target}`, the Makefile has none"


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_readme_s_local_links_and_pictures_exist():
    targets = re.findall(r"\]\(((?!https?://|#)[^)\s]+)\)", README)
    assert "docs/serve-check.png" in targets
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert missing == [], f"README.md links to files that are not there: {missing}"


def test_the_readme_s_anchors_name_its_headings():
    def anchor(heading: str) -> str:  # GitHub's rule: lower case, punctuation dropped, spaces to hyphens
        return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")

    headings = {anchor(h) for h in re.findall(r"^#{1,4} (.+)$", README, re.MULTILINE)}
    linked = set(re.findall(r"\]\(#([^)]+)\)", README))
    assert linked and linked <= headings, linked - headings


def test_the_readme_names_every_setting():
    from batchops.settings import FIELDS

    for field in FIELDS:
        assert f"`{field.env}`" in README and f"`{field.key}`" in README, field.env
