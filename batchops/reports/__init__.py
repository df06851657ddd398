"""The files batchops writes for people: Errors, Plan and Results sheets, audits, undo files, templates, exports."""
