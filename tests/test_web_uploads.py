"""Uploads: streamed into a private folder under made-up names, size-limited, checked by the library."""

from __future__ import annotations

import os
import stat
import zipfile

import openpyxl
import pytest
from sheet_builders import sheet_xml, write_xlsx
from web_helpers import client_for, serving, settings_rows, settings_workbook, upload

XSS = "<script>alert(1)</script>"
SHEET = "<img src=x> & co"  # a sheet name cannot hold "/" either
XSS_NAME = "<img src=x onerror=alert(1)>.xlsx"  # a client file name cannot hold "/"


@pytest.fixture
def web(tmp_path):
    with serving(tmp_path) as running:
        yield running


def stored_files(running):
    return sorted(p for p in running.web.store.folder.rglob("*") if p.is_file())


def test_an_upload_is_checked_and_answered_201_with_the_library_counts(web, tmp_path):
    path = settings_workbook(tmp_path / "agents.xlsx", settings_rows(3))
    with client_for(web) as client:
        answer = upload(client, path)
    assert answer.status_code == 201
    body = answer.json()
    assert {k: body[k] for k in ("name", "operation", "rows", "valid", "error_count", "sheet")} == {
        "name": "agents.xlsx", "operation": "agent-settings", "rows": 3, "valid": True, "error_count": 0,
        "sheet": "agent-settings"}
    assert len(body["id"]) >= 16


def test_uploads_are_stored_privately_under_names_the_server_makes(web, tmp_path):
    path = settings_workbook(tmp_path / "agents.xlsx", settings_rows(2))
    with client_for(web) as client:
        upload(client, path, name="../../etc/passwd.xlsx")
        upload(client, path, name=f"{XSS}.xlsx")
    folder = web.web.store.folder
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = stored_files(web)
    assert len(files) == 2
    for f in files:
        assert f.name == "upload.xlsx"
        assert stat.S_IMODE(f.parent.stat().st_mode) == 0o700
        assert folder in f.parents
    assert not (tmp_path / "etc").exists()


def test_the_client_file_name_is_only_shown_and_escaped(web, tmp_path):
    path = settings_workbook(tmp_path / "agents.xlsx", settings_rows(2))
    with client_for(web) as client:
        file_id = upload(client, path, name=XSS_NAME).json()["id"]
        page = client.get(f"/files/{file_id}").text
        start = client.get("/").text
    assert "<img" not in page and "<img" not in start
    assert "&lt;img src=x onerror=alert(1)&gt;.xlsx" in page
    assert "&lt;img src=x onerror=alert(1)&gt;.xlsx" in start


def test_a_file_over_the_limit_is_answered_413_and_nothing_is_kept(tmp_path):
    path = tmp_path / "agents.xlsx"
    path.write_bytes(os.urandom(1024 * 1024 + 1))  # refused by size before anything reads it
    with serving(tmp_path, max_upload_bytes=1024 * 1024) as running, client_for(running) as client:
        answer = upload(client, path)
        assert answer.status_code == 413
        assert answer.json() == {"error": "the file is larger than the upload limit of 1 MB; start batchops "
                                          "serve with a larger --max-upload-mb."}
        assert stored_files(running) == []


def test_a_streamed_upload_without_a_length_stops_at_the_limit(tmp_path):
    boundary = "b0undary"

    def body():
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.xlsx\"\r\n"
               "Content-Type: application/octet-stream\r\n\r\n").encode()
        for _ in range(40):  # 40 x 64 KB = 2.5 MB, never announced in a Content-Length
            yield b"\0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    with serving(tmp_path, max_upload_bytes=1024 * 1024) as running, client_for(running) as client:
        answer = client.post("/api/files", content=body(),
                             headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert answer.status_code == 413
        assert stored_files(running) == []


@pytest.mark.parametrize(("kwargs", "status", "message"), [
    ({"content": b"plain", "headers": {"Content-Type": "text/plain"}}, 415,
     "send the file as multipart/form-data in a field named 'file'."),
    ({"data": {"operation": "agent-settings"}, "files": {"other": ("a.txt", b"x")}}, 400,
     "the upload has no field named 'file'."),
    ({"content": b"--x\r\ngarbage", "headers": {"Content-Type": "multipart/form-data; boundary=x"}}, 400,
     "the upload has no field named 'file'."),
])
def test_a_malformed_upload_is_refused_with_one_line(web, kwargs, status, message):
    with client_for(web) as client:
        answer = client.post("/api/files", **kwargs)
    assert answer.status_code == status
    assert answer.json() == {"error": message}
    assert stored_files(web) == []


def test_a_zip_bomb_is_refused_by_the_readers_guard_and_removed(web, tmp_path):
    bomb = write_xlsx(tmp_path / "zb.xlsx", [("Data", "visible", sheet_xml({1: ["id"]}))],
                      extra_parts={"xl/media/blank.bin": b"\x00" * (12 * 1024 * 1024)}, compresslevel=9)
    with client_for(web) as client:
        answer = upload(client, bomb, name="holiday.xlsx")
    assert answer.status_code == 422
    assert answer.json()["error"].startswith("holiday.xlsx: looks like a zip bomb: part xl/media/blank.bin inflates")
    assert stored_files(web) == []


def test_an_xml_bomb_is_refused_by_the_readers_guard(web, tmp_path):
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
              '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol2;</t></si></sst>')
    bomb = write_xlsx(tmp_path / "bomb.xlsx", [("Data", "visible", sheet_xml({1: ["id"]}))],
                      extra_parts={"xl/sharedStrings.xml": laughs})
    with client_for(web) as client:
        answer = upload(client, bomb)
    assert answer.status_code == 422
    assert answer.json()["error"].startswith(
        "bomb.xlsx: declares XML entities in xl/sharedStrings.xml (a possible XML bomb); it was not opened.")


def test_not_a_spreadsheet_is_one_clear_line(web, tmp_path):
    path = tmp_path / "notes.xlsx"
    path.write_bytes(b"%PDF-1.7 not a workbook")
    with client_for(web) as client:
        answer = upload(client, path)
    assert answer.status_code == 422
    assert answer.json()["error"].startswith("notes.xlsx: ")


def flawed(tmp_path):
    rows = settings_rows(120)
    rows[0][2] = "3"  # callType outside 0/1/2 (row 2)
    rows[4][4] = "1,2,3,4,5,6"  # six numbers (row 6)
    rows[9][3] = XSS  # markup in a cell that must hold numbers (row 11)
    rows[99][2] = "9"  # row 101
    return settings_workbook(tmp_path / "flawed.xlsx", rows, sheet=SHEET)


def test_errors_are_paged_and_filtered_on_the_server(web, tmp_path):
    with client_for(web) as client:
        body = upload(client, flawed(tmp_path)).json()
        assert (body["valid"], body["rows"], body["error_count"]) == (False, 120, 4)
        file_id = body["id"]
        page = client.get(f"/api/files/{file_id}/errors", params={"offset": 1, "limit": 2}).json()
        assert page["total"] == 4 and page["offset"] == 1 and page["limit"] == 2
        assert [e["row"] for e in page["errors"]] == [6, 11]
        assert set(page["errors"][0]) >= {"row", "column", "value", "code", "message"}
        assert page["errors"][1]["value"] == XSS  # JSON carries the text as it is; pages escape it
        only = client.get(f"/api/files/{file_id}/errors", params={"column": "callType"}).json()
        assert [(e["row"], e["value"]) for e in only["errors"]] == [(2, "3"), (101, "9")]
        assert client.get(f"/api/files/{file_id}/errors", params={"limit": "ten"}).status_code == 400


def test_the_grid_is_paged_on_the_server_with_bad_cells_marked(web, tmp_path):
    with client_for(web) as client:
        file_id = upload(client, flawed(tmp_path)).json()["id"]
        first = client.get(f"/api/files/{file_id}/rows", params={"limit": 50}).json()
        assert first["total"] == 120 and len(first["rows"]) == 50
        assert first["headers"][:3] == ["id", "userId", "callType"]
        row2 = first["rows"][0]
        assert row2["row"] == 2 and row2["cells"][2]["value"] == "3" and row2["cells"][2]["error"]
        assert row2["cells"][0]["error"] is None
        last = client.get(f"/api/files/{file_id}/rows", params={"offset": 100, "limit": 50}).json()
        assert [r["row"] for r in last["rows"]] == list(range(102, 122))
        bad = client.get(f"/api/files/{file_id}/rows", params={"only_bad": 1}).json()
        assert [r["row"] for r in bad["rows"]] == [2, 6, 11, 101]
        huge = client.get(f"/api/files/{file_id}/rows", params={"limit": 100000}).json()
        assert len(huge["rows"]) == 120 and huge["limit"] == 500


def test_cell_values_sheet_names_and_messages_are_escaped_on_the_check_page(web, tmp_path):
    with client_for(web) as client:
        file_id = upload(client, flawed(tmp_path)).json()["id"]
        page = client.get(f"/files/{file_id}", params={"only_bad": 1}).text
    assert "<script>" not in page.replace('<script src="/static/app.js" defer></script>', "")
    assert "<img" not in page and "&lt;img src=x&gt; &amp; co" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page


def test_the_downloaded_workbook_has_the_errors_sheet_and_the_client_name(web, tmp_path):
    with client_for(web) as client:
        file_id = upload(client, flawed(tmp_path), name="my file é.xlsx").json()["id"]
        answer = client.get(f"/api/files/{file_id}/workbook")
    assert answer.status_code == 200
    assert "attachment" in answer.headers["content-disposition"]
    assert "filename*=utf-8''my%20file%20%C3%A9.xlsx" in answer.headers["content-disposition"]
    target = tmp_path / "downloaded.xlsx"
    target.write_bytes(answer.content)
    workbook = openpyxl.load_workbook(target)
    assert "Errors" in workbook.sheetnames
    assert workbook["Errors"].max_row == 5


def test_a_corrected_file_replaces_the_flawed_one_in_place(web, tmp_path):
    with client_for(web) as client:
        file_id = upload(client, flawed(tmp_path)).json()["id"]
        fixed = settings_workbook(tmp_path / "fixed.xlsx", settings_rows(120))
        answer = upload(client, fixed, url=f"/api/files/{file_id}")
        assert answer.status_code == 200
        assert answer.json()["id"] == file_id and answer.json()["valid"] is True
        assert client.get(f"/api/files/{file_id}/errors").json()["total"] == 0
    assert len(stored_files(web)) == 1  # the flawed copy is gone


def test_an_unknown_file_is_404(web):
    with client_for(web) as client:
        assert client.get("/api/files/nope/errors").status_code == 404
        assert client.get("/api/files/nope").json() == {
            "error": "no such file on this server (uploads are forgotten when it restarts)."}
        assert client.get("/files/nope").status_code == 404


def test_the_upload_folder_is_removed_at_stop_unless_kept(tmp_path):
    path = settings_workbook(tmp_path / "agents.xlsx", settings_rows(2))
    with serving(tmp_path / "a") as running, client_for(running) as client:
        upload(client, path)
        folder = running.web.store.folder
    assert not folder.exists()
    with serving(tmp_path / "b", keep_uploads=True) as running, client_for(running) as client:
        upload(client, path)
        folder = running.web.store.folder
    assert folder.exists() and running.web.kept_uploads == folder
    assert len([p for p in folder.rglob("*.xlsx")]) == 1


def test_a_template_is_downloaded_as_the_library_writes_it(web, tmp_path):
    with client_for(web) as client:
        answer = client.get("/templates/called-route.xlsx")
        assert answer.status_code == 200
        assert client.get("/templates/nothing.xlsx").status_code == 404
    target = tmp_path / "t.xlsx"
    target.write_bytes(answer.content)
    with zipfile.ZipFile(target) as z:
        assert "xl/workbook.xml" in z.namelist()
    from batchops.checking.validation import validate_file
    assert validate_file(target).operation.name == "called-route"


def test_a_job_keeps_the_sheet_as_read_only_when_asked(tmp_path):
    from batchops.workflow import Job

    path = settings_workbook(tmp_path / "agents.xlsx", settings_rows(4))
    kept = Job(path, keep_table=True)
    kept.validate()
    assert kept.table is not None and kept.table.row_numbers == [2, 3, 4, 5]
    plain = Job(path)
    plain.validate()
    assert plain.table is None  # the command line keeps no second copy of a big sheet


def test_only_the_latest_files_keep_their_sheet_in_memory(web, tmp_path):
    path = settings_workbook(tmp_path / "agents.xlsx", settings_rows(3))
    with client_for(web) as client:
        ids = [upload(client, path).json()["id"] for _ in range(3)]
        files = web.web.files
        assert [files.get(i).job.table is not None for i in ids] == [False, True, True]
        rows = client.get(f"/api/files/{ids[0]}/rows").json()  # read again when its grid is asked for
        assert rows["total"] == 3
