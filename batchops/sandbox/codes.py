"""Return codes the sandbox answers, with where each comes from.

Success codes and the iSales failure codes are documented (api-docs/, api-notes.md). The C1 pages say only
"0: success, other values: failure", so the C1 failure codes below are the sandbox's own choice: a client
must treat every value other than the success code as a failure and show the description.
"""

from __future__ import annotations

# agentsettings/update, calledRoute/modifyCalledRoute: documented success.
C1_OK = "0"
# The sandbox's C1 business failures (undocumented values; any non-"0" is a failure).
C1_NOT_FOUND = "1"
C1_NOT_EDITABLE = "2"
C1_BAD_VALUE = "3"
C1_BAD_REQUEST = "400"

# CCSQM silence rules: documented success.
SQM_OK = "0405000"
# The sandbox's CCSQM business failures (undocumented values).
SQM_NOT_FOUND = "0405004"
SQM_BAD_VALUE = "0405001"
SQM_BAD_REQUEST = "0405400"

# iSales (isales-appoint-update page, table 5).
ISALES_OK = "0200000"
ISALES_PARAMETER_ERROR = "0200001"
ISALES_DATABASE_ERROR = "0200006"
ISALES_EMPTY = "02000001"
ISALES_INVALID_CHARS = "02000002"
ISALES_TOO_LONG = "02000003"
ISALES_NOT_FOUND = "04000004"
