"""The nightly export of answer snapshots: NDJSON batch files and a manifest, exactly once per write."""

from .lines import ExportWindow, pii_fields
from .runs import ExportAlreadyRunning, InvalidExportWindow, export_lock, export_watermark, export_window
from .service import DEFAULT_BATCH_SIZE, MANIFEST_NAME, STORAGE_ALIAS, ExportResult, answers_export

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "MANIFEST_NAME",
    "STORAGE_ALIAS",
    "ExportAlreadyRunning",
    "ExportResult",
    "ExportWindow",
    "InvalidExportWindow",
    "answers_export",
    "export_lock",
    "export_watermark",
    "export_window",
    "pii_fields",
]
