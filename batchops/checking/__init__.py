"""Checking a sheet's rows: headers matched, raw cells made canonical text, every row checked, a report."""
