"""The aggregation pipeline's Celery tasks, a few lines each around one service.

Celery's autodiscovery imports this package, so every task module is imported here: ``ingest``
(the completion messages), ``export`` (the nightly export, beat), ``funnel`` (the funnel's
fold, beat) and ``retention`` (the retention run, beat).
"""

from . import export, funnel, ingest, retention  # noqa: F401  (registers their tasks)
