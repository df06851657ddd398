"""``batchops demo``: the whole pipeline against the bundled sandbox, as an operator would run it."""

from __future__ import annotations

import csv
import os
import shlex
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import click
from rich.markup import escape
from rich.rule import Rule

from .app import app
from .output import err, out

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"
ROWS_TO_CHANGE = 200
RESAVED_ROWS = 6
"""Rows of the filled-in workbook the demo writes as a CSV that Excel saved again."""
EDITED_ROWS = 5
"""Rows of the agent-settings export the demo gives new softphone numbers."""
HELPER_COLUMN = "Checked by"
"""A column of the operator's own beside the data: kept, ignored with a note, never sent."""


@app.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-output"),
              show_default=True, help="Folder for the files the demo makes (emptied first).")
@click.option("--agents", type=click.IntRange(10, 60_000), default=300, show_default=True,
              help="How many agents the sandbox is seeded with.")
def demo(out_dir: Path, agents: int) -> int:
    """Run export → template → validate → plan → apply → audit against a local sandbox.

    Starts the sandbox on a free loopback port, prints each step's command as an operator would type
    it, and lists the files it made. Nothing leaves this machine. Along the way: mistakes caught, a
    CSV whose leading zeros Excel dropped refused and then fixed, every agent's settings found from the
    agents and edited with a column of one's own, and unedited exports planning as "no change".
    """
    from ..sandbox import SandboxOptions, start_sandbox
    from . import run

    started = time.monotonic()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    journal = out_dir / "journal.sqlite3"
    with start_sandbox(SandboxOptions(agents=agents)) as sandbox:
        saved = {k: os.environ.get(k) for k in sandbox.env()}
        os.environ.update(sandbox.env())
        try:
            _banner(f"Sandbox AICC listening on {sandbox.url} (the same variables `batchops sandbox` prints)")
            for name, value in sandbox.env().items():
                out.print(f"  {name}={escape(value)}", highlight=False)

            def step(title: str, args: list[str], expect: tuple[int, ...] = (0,)) -> None:
                _banner(title)
                out.print(f"[bold]$ batchops {escape(shlex.join(args))}[/bold]", highlight=False)
                code = run(args)
                if code not in expect:
                    raise click.ClickException(f"the demo step '{title}' ended with exit code {code}")

            step("1. Export the agents' softphone data (sipPwd masked)",
                 ["export", "agents", "-o", str(out_dir / "agents.xlsx")])
            step("2. A template for agent-settings, to fill in in Excel",
                 ["template", "agent-settings", "-o", str(out_dir / "agent-settings-template.xlsx")])
            settings_file = out_dir / "agent-settings.xlsx"
            _fill_agent_settings(out_dir / "agent-settings-template.xlsx", settings_file, sandbox)
            out.print(f"  (filled in {ROWS_TO_CHANGE} rows with new softphone and display numbers: "
                      f"{escape(str(settings_file))})")
            routes_file = out_dir / "called-routes-nightly.csv"
            _write_route_csv(routes_file, sandbox)
            out.print(f"  (a nightly-style CSV re-routing access codes: {escape(str(routes_file))})")
            flawed = out_dir / "agent-settings-flawed.xlsx"
            _flawed_sample(out_dir / "agent-settings-template.xlsx", settings_file, flawed)
            step("3. Validate a file with mistakes: every bad cell named, nothing sent",
                 ["validate", str(flawed)], expect=(2,))
            step("4. Validate the filled-in workbook", ["validate", str(settings_file)])
            step("5. Plan: what would change, before → after (nothing is sent)",
                 ["plan", str(settings_file), "--journal", str(journal)])
            step("6. Apply, with the Results sheet written back into the workbook",
                 ["apply", str(settings_file), "--yes", "--journal", str(journal)])
            step("7. Apply it again: the journal skips what is already applied",
                 ["apply", str(settings_file), "--yes", "--journal", str(journal)])
            step("8. The nightly CSV, as cron would run it (--yes, --json for the scheduler)",
                 ["apply", str(routes_file), "--yes", "--json", "--journal", str(journal)])
            resaved, fixed = out_dir / "agent-settings-resaved.csv", out_dir / "agent-settings-fixed.csv"
            _resaved_csv(settings_file, resaved, fixed)
            out.print(f"  (the first {RESAVED_ROWS} rows as a CSV that Excel opened and saved again: every single "
                      f"number lost its leading zero, 07552000 became 7552000: {escape(str(resaved))})")
            step("9. Plan that CSV: the numbers are the current ones without their zeros, so plan refuses them",
                 ["plan", str(resaved), "--journal", str(journal)], expect=(1,))
            step("10. Apply holds those rows back: nothing is sent (--accept-lost-zeros would send them as they are)",
                 ["apply", str(resaved), "--yes", "--journal", str(journal)], expect=(1,))
            out.print(f"  (fixed: the columns formatted as Text and the zeros typed back: {escape(str(fixed))})")
            step("11. The fixed CSV: every value is already in effect, nothing to send",
                 ["plan", str(fixed), "--journal", str(journal)])
            walked = out_dir / "agent-settings-export.xlsx"
            step("12. Every agent's settings, found from the agents (those that cannot be matched are listed)",
                 ["export", "agent-settings", "-o", str(walked)])
            edited = out_dir / "agent-settings-edited.xlsx"
            _edit_export(walked, edited)
            out.print(f"  (edited as in Excel: new softphone numbers for {EDITED_ROWS} agents and a '{HELPER_COLUMN}' "
                      f"column of your own; workNo, account and name stay beside each row, read-only: "
                      f"{escape(str(edited))})")
            step("13. Validate it: your own column is kept, with one note; the read-only columns need none",
                 ["validate", str(edited)])
            step("14. Apply it: only the edited rows are sent, the others change nothing",
                 ["apply", str(edited), "--yes", "--journal", str(journal)])
            routes_export = out_dir / "called-routes-export.xlsx"
            step("15. An unedited export of the called routes plans as 'no change', locked routes too",
                 ["export", "called-routes", "-o", str(routes_export)])
            out.print(f"[bold]$ batchops {escape(shlex.join(['plan', str(routes_export)]))}[/bold]", highlight=False)
            if run(["plan", str(routes_export), "--journal", str(journal)]) != 0:
                raise click.ClickException("the unedited export of the called routes did not plan as no change")
            step("16. The audit trail: who changed what, when, from which file",
                 ["audit", "-o", str(out_dir / "audit.xlsx"), "--journal", str(journal)])
        finally:
            for name, old in saved.items():
                if old is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = old
    _banner(f"Done in {time.monotonic() - started:.1f}s. Files made:")
    for path in sorted(out_dir.iterdir()):
        out.print(f"  {escape(str(path))}  ({path.stat().st_size:,} bytes)", highlight=False)
    return 0


def _banner(text: str) -> None:
    err.print(Rule(style="dim"))
    out.print(f"[bold cyan]{escape(text)}[/bold cyan]")


def _fill_agent_settings(template: Path, target: Path, sandbox: object) -> None:
    """Fill the template as an operator would: every ID as text, new numbers for the first agents."""
    import openpyxl

    settings = sorted(sandbox.agent_settings(), key=lambda s: s["id"])[:ROWS_TO_CHANGE]  # type: ignore[attr-defined]
    workbook = openpyxl.load_workbook(template)
    sheet = workbook.worksheets[0]
    for i, record in enumerate(settings):
        number = f"0755{2000 + i:04d}"
        sheet.append([record["id"], record["userId"], "1", f"{number},{number}1", number, number, f"0755{8000 + i}"])
    workbook.save(target)


def _flawed_sample(template: Path, filled: Path, target: Path) -> None:
    """The repository's flawed sample when it is there (a source checkout); else the same kinds of mistake
    planted in a copy of the filled-in workbook, so that an installed batchops can run the demo too."""
    sample = SAMPLES / "agent-settings-flawed.xlsx"
    if sample.exists():
        shutil.copyfile(sample, target)
        return
    import openpyxl

    workbook = openpyxl.load_workbook(filled)
    sheet = workbook.worksheets[0]
    sheet["A3"] = 1.307145259662215e18  # a 19-digit ID typed into a General cell
    sheet["E4"] = "1,2,3,4,5,6"  # six numbers in a list
    sheet["G5"] = "0755860012345678"  # a 16-digit number
    sheet["C6"] = "3"  # callType outside 0/1/2
    sheet["A7"] = sheet["A2"].value  # the same record twice
    sheet["B8"] = '=B2&"1"'  # a formula
    workbook.save(target)


def _resaved_csv(filled: Path, resaved: Path, fixed: Path) -> None:
    """The first rows of the filled-in workbook as CSV twice: as Excel saves it again (a cell holding one
    number loses its leading zeros; a list such as ``07552000,075520001`` is text and keeps them) and as
    the operator fixes it (the zeros typed back)."""
    from ..sheets.reader import read_table

    table = read_table(filled)
    rows = [[str(v) if v is not None else "" for v in row[:7]] for row in table.rows[:RESAVED_ROWS]]
    with fixed.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([table.headers[:7], *rows])
    stripped = [[v.lstrip("0") if j >= 2 and v.isdigit() else v for j, v in enumerate(row)] for row in rows]
    with resaved.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([table.headers[:7], *stripped])


def _edit_export(export: Path, target: Path) -> None:
    """Edit the agent-settings export as an operator would in Excel: new softphone numbers for the first
    rows, and a column of one's own (who checked them) after the read-only context columns."""
    import openpyxl

    workbook = openpyxl.load_workbook(export)
    sheet = workbook.worksheets[0]
    headers = [c.value for c in sheet[1]]
    number, helper = headers.index("callNumber") + 1, len(headers) + 1
    sheet.cell(1, helper).value = HELPER_COLUMN
    for i in range(EDITED_ROWS):
        sheet.cell(2 + i, number).value = f"0756{3000 + i:04d}"
        sheet.cell(2 + i, helper).value = "li.wei"
    workbook.save(target)


def _write_route_csv(target: Path, sandbox: object) -> None:
    """Editable routes re-pointed to another skill queue, one per line, as a nightly job would export them."""
    queues: list[int] = sorted(sandbox.skill_queues())  # type: ignore[attr-defined]
    routes = [r for r in sandbox.routes() if r["editable"] not in (1, 3)][:50]  # type: ignore[attr-defined]
    pick: Callable[[int], int] = lambda i: queues[i % len(queues)]
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "devicetype", "deviceId"])
        for i, route in enumerate(routes):
            writer.writerow([route["id"], 1, pick(i)])
