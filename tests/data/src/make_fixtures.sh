#!/bin/sh
# Rebuild the LibreOffice-written fixtures in tests/data from the sources here (needs soffice).
# Run from anywhere: sh tests/data/src/make_fixtures.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$(dirname "$here")
work=$(mktemp -d)
lo() { soffice -env:UserInstallation="file://$work/profile" --headless "$@" >/dev/null 2>&1; }

# lo_agents.xlsx: flat ODS -> xlsx. LibreOffice always shows the active sheet, and headless
# conversion ignores the view settings in the .fods, so the first sheet comes out visible; mark it
# hidden (and the second sheet active) in LibreOffice's own workbook.xml, then let LibreOffice read
# and write the package once more, so every byte of the result is LibreOffice's.
lo --convert-to xlsx --outdir "$work/step1" "$here/lo_agents.fods"
python3 - "$work/step1/lo_agents.xlsx" "$work/step2.xlsx" <<'PY'
import sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
    for info in zin.infolist():
        data = zin.read(info.filename)
        if info.filename == "xl/workbook.xml":
            data = data.replace(b'name="Notes" sheetId="1" state="visible"', b'name="Notes" sheetId="1" state="hidden"')
            data = data.replace(b'activeTab="0"', b'activeTab="1"')
        zout.writestr(info, data)
PY
mkdir -p "$work/step3" && cp "$work/step2.xlsx" "$work/step3/lo_agents_in.xlsx"
lo --convert-to xlsx --outdir "$work/step4" "$work/step3/lo_agents_in.xlsx"
cp "$work/step4/lo_agents_in.xlsx" "$out/lo_agents.xlsx"
# lo_agents.xls and lo_agents.ods: the same workbook saved by LibreOffice as Excel 97-2003 and as ODF,
# so the readers of those formats are held to the xlsx reader's results.
lo --convert-to xls --outdir "$out" "$out/lo_agents.xlsx"
lo --convert-to ods --outdir "$out" "$out/lo_agents.xlsx"

# lo_from_csv.xlsx: CSV import with columns 1, 2 and 4 typed as Text (format 2), 3 and 5 Standard (1).
lo --infilter="CSV:44,34,76,1,1/2/2/2/3/1/4/2/5/1" --convert-to xlsx --outdir "$out" "$here/lo_from_csv.csv"
# lo_from_csv.xls: the same CSV saved as Excel 97-2003.
lo --infilter="CSV:44,34,76,1" --convert-to xls --outdir "$out" "$here/lo_from_csv.csv"
rm -rf "$work"
