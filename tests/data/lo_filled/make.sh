#!/bin/sh
# Rebuild the LibreOffice-filled templates in this folder (needs soffice; CI does not run this).
# For each OP.cells: open templates/OP.xlsx in LibreOffice, type every CELL=VALUE as a user would,
# save as OP.xlsx here. A throw-away LibreOffice profile holds the Basic macro (Fill.xba).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
soffice --headless -env:UserInstallation="file://$profile" --terminate_after_init
cp "$here/Fill.xba" "$profile/user/basic/Standard/Module1.xba"
for cells in "$here"/*.cells; do
    op=$(basename "$cells" .cells)
    job="$profile/$op.job"
    { echo "file://$repo/templates/$op.xlsx"; echo "file://$here/$op.xlsx"; cat "$cells"; } > "$job"
    BATCHOPS_LO_JOB="$job" soffice --headless -env:UserInstallation="file://$profile" \
        "vnd.sun.star.script:Standard.Module1.Fill?language=Basic&location=application"
    echo "wrote $here/$op.xlsx"
done
