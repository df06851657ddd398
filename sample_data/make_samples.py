"""Make every file in sample_data/: valid and flawed workbooks per operation, nightly CSVs, the README.

Run ``.venv/bin/python sample_data/make_samples.py``. The output is deterministic (fixed seeds, fixed
document dates), so re-running it changes nothing unless this script or the catalogue changed.

Each workbook is made FROM the operation's template (``batchops.reports.templates.build_template``), so it
carries the stamp, the Text formats and the dropdowns. The flawed workbooks plant realistic mistakes;
each one is declared next to its row (:class:`Mistake`), and that one declaration feeds both the
README table and ``tests/test_samples.py``, so a cell named in the README is the cell the test checks.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from batchops.catalogue import OPERATIONS, Operation
from batchops.sheets.table import column_letter
from batchops.reports.templates import TemplateSheets, build_template, save_workbook

HERE = Path(__file__).resolve().parent


# --- what a sample holds ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Formula:
    """A formula cell with the value Excel cached for it."""

    text: str
    cached: str | float


@dataclass(frozen=True)
class Merged:
    """The top cell of a range merged downwards over ``rows`` cells."""

    value: Any
    rows: int = 2


@dataclass(frozen=True)
class Mistake:
    """A planted mistake: the column it is in, what it is, the code validation must report."""

    column: str
    what: str
    code: str
    severity: str = "error"
    extra_rows: tuple[int, ...] = ()
    """Other rows (1-based Excel rows) reported with the same code: the other half of a duplicate pair,
    the rest of a merged range."""


@dataclass
class Row:
    """One data row: field name → cell value (str = text cell, int/float = number cell, datetime…)."""

    values: dict[str, Any]
    mistakes: list[Mistake] = field(default_factory=list)


@dataclass(frozen=True)
class Expected:
    """A planted mistake at its cell, as validation must report it."""

    sheet: str
    cell: str
    header: str
    what: str
    code: str
    severity: str


@dataclass
class Sample:
    """One workbook: its operation, file name, rows and what it is for."""

    op: Operation
    name: str
    rows: list[Row]
    about: str

    def expected(self) -> list[Expected]:
        """Every planted mistake at its cell (a duplicate pair and a merged range: every cell)."""
        found: list[Expected] = []
        for number, row in enumerate(self.rows, start=2):
            for m in row.mistakes:
                col = column_letter(self.op.columns.index(m.column))
                found.append(Expected(self.op.name, f"{col}{number}", m.column, m.what, m.code, m.severity))
                for r in m.extra_rows:
                    found.append(Expected(self.op.name, f"{col}{r}", m.column,
                                          f"reported with {col}{number}: {m.what}", m.code, m.severity))
        return found


# --- realistic values ------------------------------------------------------------------------------

def ids(rng: random.Random, prefix: str, count: int, width: int = 19) -> list[str]:
    """Distinct IDs of ``width`` digits starting with ``prefix`` (snowflake-like, as AICC makes them)."""
    seen: set[str] = set()
    while len(seen) < count:
        seen.add(prefix + "".join(rng.choice("0123456789") for _ in range(width - len(prefix))))
    return sorted(seen)


def phone(rng: random.Random, area: str = "0755") -> str:
    """A Shenzhen-style fixed-line number with its leading zero: text, never a number."""
    return area + "".join(rng.choice("0123456789") for _ in range(8))


def extension(rng: random.Random) -> str:
    return str(rng.randint(100000, 999999))


def agent_rows(rng: random.Random, count: int) -> list[Row]:
    rows = []
    for i, (rid, uid) in enumerate(zip(ids(rng, "13071452596622", count), ids(rng, "16602708456270", count))):
        softphones = [extension(rng) for _ in range(rng.randint(1, 3))]
        displays = [phone(rng) for _ in range(rng.randint(1, 2))]
        values: dict[str, Any] = {"id": rid, "userId": uid, "callType": float(rng.choice([0, 1, 2]))}
        # Lists as people type them: plain commas, a space after the comma, a Chinese comma.
        sep = [",", ", ", "，"][i % 3]
        values["callNumber"] = sep.join(softphones)
        values["callerPresent"] = ",".join(displays)
        values["callNumberDefault"] = softphones[0]
        values["callerPresentDefault"] = displays[0]
        if i % 5 == 4:  # an optional cell left empty: that setting is not changed
            del values["callType"]
        rows.append(Row(values))
    return rows


def route_rows(rng: random.Random, count: int) -> list[Row]:
    rows = []
    for rid in ids(rng, "11253970611533", count):
        devicetype = rng.choice([1, 1, 3])
        device = rng.randint(1, 40) if devicetype == 1 else rng.randint(100, 130)
        rows.append(Row({"id": rid, "devicetype": float(devicetype), "deviceId": float(device)}))
    return rows


REMARKS = ["客户要求上午回电", "Call back after 9", "回访满意度调查", "客户出差，下周再联系", "Confirm the new plan",
           "预约装机时间", "VIP customer - English speaker", "核对账单金额"]


def appointment_rows(rng: random.Random, count: int) -> list[Row]:
    rows = []
    for i, appoint in enumerate(ids(rng, "1747299260980168", count, width=30)):
        values: dict[str, Any] = {"vdnId": float(rng.choice([1, 12])), "appointId": appoint}
        if i % 4 == 3:
            values["workNo"] = float(rng.randint(101, 400))  # the OP deployment: agent ID, no account
        else:
            values["userAccount"] = f"agent{rng.randint(1, 80):03d}"
        moment = datetime(2026, 12, rng.randint(1, 20), rng.choice([9, 10, 14, 15, 16]), rng.choice([0, 15, 30, 45]))
        if i % 5 == 1:
            values["appointTime"] = moment.strftime("%Y-%m-%d %H:%M")  # typed as text
        elif i % 5 == 2:
            values["appointTime"] = "1764552600000"  # epoch milliseconds from another system
        else:
            values["appointTime"] = moment  # a real date cell
        values["remark"] = REMARKS[i % len(REMARKS)]
        rows.append(Row(values))
    return rows


RULE_NAMES = ["静默超过5秒", "长时间静默扣分", "开场白后静默", "客户等待过久", "转接前静默", "结束语前静默",
              "查询系统静默", "夜班静默规则", "投诉电话静默", "VIP静默检测"]


def silence_rows(rng: random.Random, count: int) -> list[Row]:
    rows = []
    for i, sid in enumerate(ids(rng, "92298853763514", count, width=18)):
        start = datetime(2021, 6, rng.randint(1, 15), rng.randint(8, 12), rng.randint(0, 59), rng.randint(0, 59))
        end = start.replace(day=start.day + rng.randint(1, 10))
        values: dict[str, Any] = {
            "silence_id": sid, "name": RULE_NAMES[i % len(RULE_NAMES)], "score": float(rng.randint(1, 20)),
            "seconds": float(rng.choice([3, 5, 8, 10, 15])), "times": float(rng.randint(1, 5)),
        }
        if i % 3 == 0:
            values["call_from"], values["call_end"] = start, end  # date cells
        elif i % 3 == 1:
            values["call_from"] = start.strftime("%Y-%m-%d %H:%M:%S")  # typed as text
            values["call_end"] = end.strftime("%Y-%m-%d %H:%M:%S")
        values["before_staff"] = ",".join(str(rng.randint(14000, 14999)) for _ in range(rng.randint(1, 3)))
        if i % 2:
            values["before_customer"] = str(rng.randint(15000, 15999))
        if i % 4 == 0:
            values["after_staff"] = f"{rng.randint(16000, 16999)}, {rng.randint(16000, 16999)}"
        rows.append(Row(values))
    return rows


# --- the samples -----------------------------------------------------------------------------------

AS, CR, AP, SR = (OPERATIONS[n] for n in ("agent-settings", "called-route", "appointment", "silence-rule"))
AS_ROUNDED = 1.307145259662215e18  # what Excel keeps of 1307145259662215169 typed into a General cell


def valid_samples() -> list[Sample]:
    return [
        Sample(AS, "agent-settings-valid.xlsx", agent_rows(random.Random(11), 20),
               "20 agents: 19-digit IDs as text, display numbers with a leading 0, lists written with "
               "',', ', ' and '，', some callType cells left empty"),
        Sample(CR, "called-route-valid.xlsx", route_rows(random.Random(12), 15),
               "15 access codes routed to skill queues (devicetype 1) or IVRs (3)"),
        Sample(AP, "appointment-valid.xlsx", appointment_rows(random.Random(13), 12),
               "12 reservations: 30-digit appointIds, date cells, date-times typed as text, epoch "
               "milliseconds, Chinese remarks, a workNo instead of userAccount in some rows"),
        Sample(SR, "silence-rule-valid.xlsx", silence_rows(random.Random(14), 10),
               "10 silence rules with Chinese names, call windows as date cells and as text, sentence ID lists"),
    ]


def flawed_agent_settings() -> Sample:
    rows = agent_rows(random.Random(21), 16)
    v = [r.values for r in rows]
    # Row numbers are Excel's: rows[0] is row 2.
    plant(rows[1], "id", AS_ROUNDED, "a 19-digit ID typed into a General cell: Excel stored "
          "1.30714525966221E+18", "rounded")
    plant(rows[3], "callNumber", "880101,880102,880103,880104,880105,880106", "six numbers in a list",
          "too_many")
    plant(rows[4], "callerPresentDefault", "0755860012345678", "a 16-digit number", "too_long")
    plant(rows[5], "callerPresent", "075586001234,1234567890123456", "a list with a 16-digit number",
          "item_too_long")
    plant(rows[7], "id", v[2]["id"], "the ID of row 4 again", "duplicate", extra_rows=(4,))
    plant(rows[8], "userId", Formula('=B2&"1"', v[0]["userId"] + "1"), 'a formula =B2&"1"', "formula")
    plant(rows[9], "callType", 3.0, "callType 3 (allowed: 0, 1, 2)", "not_allowed")
    plant(rows[10], "userId", None, "the mandatory userId left empty", "required")
    plant(rows[11], "callNumberDefault", 8675309.0, "a softphone number typed as a number (a leading "
          "zero would be lost; --accept-lost-zeros accepts it)", "lost_zero")
    plant(rows[12], "id", "1.30714525966221E+18", "an ID already rounded by Excel, pasted as text",
          "rounded")
    plant(rows[13], "callerPresent", "075586001234;075586001235", "numbers separated by ';'",
          "separator")
    plant(rows[14], "callNumberDefault", 12323.5, "a fraction in a number column", "fraction")
    return Sample(AS, "agent-settings-flawed.xlsx", rows, planted(rows, "agents"))


def flawed_called_route() -> Sample:
    rows = route_rows(random.Random(22), 12)
    v = [r.values for r in rows]
    plant(rows[1], "id", 1.125397061153369e18, "a 19-digit ID typed as a number", "rounded")
    plant(rows[2], "devicetype", 2.0, "devicetype 2 (allowed: 1 skill queue, 3 IVR)", "not_allowed")
    plant(rows[3], "id", v[0]["id"], "the ID of row 2 again", "duplicate", extra_rows=(2,))
    plant(rows[4], "deviceId", Formula("=C2+1", v[0]["deviceId"] + 1), "a formula =C2+1", "formula")
    plant(rows[5], "deviceId", "12a", "a device ID with a letter", "not_integer")
    plant(rows[6], "devicetype", None, "the mandatory devicetype left empty", "required")
    plant(rows[7], "devicetype", Merged(1.0), "B9:B10 merged (one value for two routes)", "merged",
          extra_rows=(10,))
    rows[8].values.pop("devicetype")  # covered by the merge
    plant(rows[9], "id", v[9]["id"][:16] + " " + v[9]["id"][16:], "an ID with a space in it", "id_format")
    plant(rows[10], "deviceId", -1.0, "deviceId -1", "out_of_range")
    return Sample(CR, "called-route-flawed.xlsx", rows, planted(rows, "routes"))


def flawed_appointment() -> Sample:
    rows = appointment_rows(random.Random(23), 14)
    v = [r.values for r in rows]
    plant(rows[1], "appointId", 1.7472992609801686e29, "a 30-digit appointId typed as a number",
          "rounded")
    plant(rows[2], "vdnId", 0.0, "vdnId 0 (allowed: 1 to 9999)", "out_of_range")
    plant(rows[3], "vdnId", 10000.0, "vdnId 10000", "out_of_range")
    plant(rows[4], "remark", "call back <urgent>", "a remark with < and >", "forbidden_chars")
    plant(rows[5], "appointTime", "2026-12-01", "a date without a time, typed as text", "needs_time")
    plant(rows[6], "appointTime", "1764552600", "epoch seconds where milliseconds belong", "unit")
    rows[7].values.pop("workNo", None)
    plant(rows[7], "userAccount", None, "neither userAccount nor workNo", "one_of")
    plant(rows[8], "workNo", 60000.0, "workNo 60000 (allowed: 101 to 59999)", "out_of_range")
    rows[8].values.pop("userAccount", None)
    plant(rows[9], "appointId", v[0]["appointId"], "vdnId and appointId of row 2 again", "duplicate",
          extra_rows=(2,))
    rows[9].values["vdnId"] = v[0]["vdnId"]
    plant(rows[10], "appointId", Formula('=B2&"1"', v[0]["appointId"] + "1"), 'a formula =B2&"1"',
          "formula")
    plant(rows[11], "remark", "回访" * 101, "a remark of 202 characters (at most 200)", "too_long")
    plant(rows[12], "appointTime", "01/12/2026 09:30", "a day-first date-time (ambiguous)",
          "not_datetime")
    return Sample(AP, "appointment-flawed.xlsx", rows, planted(rows, "reservations"))


def flawed_silence_rule() -> Sample:
    rows = silence_rows(random.Random(24), 14)
    v = [r.values for r in rows]
    plant(rows[1], "silence_id", 9.229885376351478e17, "an 18-digit ID typed as a number", "rounded")
    plant(rows[2], "score", 101.0, "score 101 (allowed: 1 to 100)", "out_of_range")
    plant(rows[3], "score", 0.0, "score 0", "out_of_range")
    rows[4].values["call_end"] = datetime(2021, 6, 17, 14, 38, 4)
    plant(rows[4], "call_from", datetime(2021, 6, 23, 14, 38, 5), "call_from after call_end", "order")
    plant(rows[5], "name", None, "the mandatory rule name left empty", "required")
    plant(rows[6], "seconds", 2.5, "2.5 seconds (whole seconds only)", "not_integer")
    plant(rows[7], "before_staff", "14161 14162", "two sentence IDs separated by a space", "item_format")
    plant(rows[8], "silence_id", v[0]["silence_id"], "the silence_id of row 2 again", "duplicate",
          extra_rows=(2,))
    plant(rows[9], "times", Formula("=E2*2", v[0]["times"] * 2), "a formula =E2*2", "formula")
    rows[10].values.pop("call_end", None)
    plant(rows[10], "call_from", "2021-06-17", "a date without a time", "needs_time")
    rows[11].values.pop("call_from", None)
    plant(rows[11], "call_end", "2021-06-31 10:00", "31 June, a date that does not exist", "not_datetime")
    plant(rows[12], "seconds", "five", "a number written in words", "not_integer")
    return Sample(SR, "silence-rule-flawed.xlsx", rows, planted(rows, "rules"))


def plant(row: Row, column: str, value: Any, what: str, code: str, *, severity: str = "error",
          extra_rows: tuple[int, ...] = ()) -> None:
    """Put a mistake into a row and declare it."""
    if value is None:
        row.values.pop(column, None)
    else:
        row.values[column] = value
    row.mistakes.append(Mistake(column, what, code, severity, extra_rows))


def planted(rows: list[Row], what: str) -> str:
    """The description of a flawed sample: how many rows, how many mistakes."""
    return f"{len(rows)} {what}, {sum(len(r.mistakes) for r in rows)} planted mistakes"


def flawed_samples() -> list[Sample]:
    return [flawed_agent_settings(), flawed_called_route(), flawed_appointment(), flawed_silence_rule()]


# --- writing ---------------------------------------------------------------------------------------

def write_sample(sample: Sample, folder: Path) -> Path:
    """The operation's template with the sample's rows typed in."""

    def fill(workbook: Any) -> None:
        sheets = build_template(workbook, sample.op)
        date_only = workbook.add_format({"num_format": "yyyy-mm-dd"})
        for number, row in enumerate(sample.rows, start=1):
            for name, value in row.values.items():
                write_cell(sheets, number, sheets.column(name), value, date_only)

    return save_workbook(folder / sample.name, fill)


def write_cell(sheets: TemplateSheets, row: int, col: int, value: Any, date_only: Any) -> None:
    ws = sheets.data
    if isinstance(value, Formula):
        ws.write_formula(row, col, value.text, None, value.cached)
    elif isinstance(value, Merged):
        ws.merge_range(row, col, row + value.rows - 1, col, None)
        write_cell(sheets, row, col, value.value, date_only)
    elif isinstance(value, datetime):
        ws.write_datetime(row, col, value, sheets.datetime)
    elif isinstance(value, date):
        ws.write_datetime(row, col, datetime(value.year, value.month, value.day), date_only)
    elif isinstance(value, (int, float)):
        ws.write_number(row, col, value)
    else:
        ws.write_string(row, col, str(value), sheets.text)


@dataclass
class NightlyCsv:
    """A CSV as a nightly export job writes it: fixed headers, one encoding, one delimiter."""

    name: str
    op: Operation
    headers: list[str]
    rows: list[list[str]]
    encoding: str
    delimiter: str
    about: str


def csv_text(rows: list[Row], op: Operation) -> list[list[str]]:
    """Rows as a database export writes them: every cell text, date-times as ISO text."""
    out = []
    for row in rows:
        cells = []
        for name in op.columns:
            value = row.values.get(name)
            if value is None:
                cells.append("")
            elif isinstance(value, datetime):
                cells.append(value.strftime("%Y-%m-%d %H:%M:%S"))
            elif isinstance(value, float):
                cells.append(str(int(value)))
            else:
                cells.append(str(value))
        out.append(cells)
    return out


def nightly_csvs() -> list[NightlyCsv]:
    chinese_headers = [AS.field(name).aliases[1] for name in AS.columns]  # 主键ID, 用户ID, 呼叫类型, …
    return [
        NightlyCsv("called-route-nightly.csv", CR, list(CR.columns), csv_text(route_rows(random.Random(31), 50), CR),
                   "utf-8", ",", "50 routes, UTF-8, comma-separated, canonical headers"),
        NightlyCsv("agent-settings-nightly.csv", AS, chinese_headers,
                   csv_text(agent_rows(random.Random(32), 30), AS), "gb18030", ",",
                   "30 agents, GB18030, Chinese headers (主键ID, 用户ID, …), lists quoted"),
        NightlyCsv("appointment-nightly.csv", AP, list(AP.columns),
                   csv_text(appointment_rows(random.Random(33), 25), AP), "utf-8-sig", ",",
                   "25 reservations, UTF-8 with BOM, date-times as text and epoch milliseconds, Chinese remarks"),
        NightlyCsv("silence-rule-nightly.csv", SR, list(SR.columns),
                   csv_text(silence_rows(random.Random(34), 20), SR), "utf-8", ";",
                   "20 rules, UTF-8, semicolon-separated (lists need no quotes), Chinese names"),
    ]


def write_csv(nightly: NightlyCsv, folder: Path) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=nightly.delimiter, lineterminator="\r\n")
    writer.writerow(nightly.headers)
    writer.writerows(nightly.rows)
    path = folder / nightly.name
    path.write_bytes(buffer.getvalue().encode(nightly.encoding))
    return path


def readme(valid: list[Sample], flawed: list[Sample], nightly: list[NightlyCsv]) -> str:
    lines = [
        "# Sample data",
        "",
        "Generated by `make_samples.py` (run `.venv/bin/python sample_data/make_samples.py`; deterministic).",
        "Do not edit the files or this README by hand: change the script and run it again.",
        "`tests/test_samples.py` checks that every valid file validates and that every planted mistake",
        "below is reported at its cell with its code.",
        "",
        "Every workbook is made from the operation's template (`batchops template`), so it carries the",
        "hidden stamp, the Text-formatted ID columns and the dropdowns.",
        "",
        "## Valid workbooks (`batchops validate` exits 0)",
        "",
        "| file | operation | rows | what it shows |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{s.name}` | {s.op.name} | {len(s.rows)} | {s.about} |" for s in valid]
    lines += ["", "## Nightly-style CSV files (valid)", "", "| file | operation | rows | format |", "|---|---|---|---|"]
    lines += [f"| `{n.name}` | {n.op.name} | {len(n.rows)} | {n.about} |" for n in nightly]
    lines += ["", "## Flawed workbooks (`batchops validate` exits 2)", ""]
    for s in flawed:
        lines += [f"### `{s.name}` ({s.about})", "", "| sheet | cell | column | planted mistake | expected code |",
                  "|---|---|---|---|---|"]
        for e in s.expected():
            code = e.code if e.severity == "error" else f"{e.code} (warning)"
            lines.append(f"| {e.sheet} | {e.cell} | {e.header} | {e.what} | `{code}` |")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def main(folder: Path = HERE) -> list[Path]:
    """Write every sample into ``folder``; returns the paths written."""
    valid, flawed, nightly = valid_samples(), flawed_samples(), nightly_csvs()
    written = [write_sample(s, folder) for s in valid + flawed]
    written += [write_csv(n, folder) for n in nightly]
    (folder / "README.md").write_text(readme(valid, flawed, nightly), encoding="utf-8")
    written.append(folder / "README.md")
    return written


if __name__ == "__main__":
    for path in main():
        print(path.relative_to(HERE.parent) if path.is_relative_to(HERE.parent) else path)
