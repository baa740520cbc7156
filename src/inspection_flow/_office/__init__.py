"""Office documents of a ledger: 台账 tables in Excel and CSV, both ways, the published
一览表, and DataFrames for notebooks.

Layered above the ledger: it reads and writes only through the ledger's public API.
openpyxl and pandas (the ``[office]`` extra) are imported when first used.
"""

from .export import KINDS, export_table, table_rows
from .frames import to_frame
from .importer import ImportReport, import_table

__all__ = ["KINDS", "ImportReport", "export_table", "import_table", "table_rows", "to_frame"]
