"""The aggregation pipeline's Celery tasks, a few lines each around one service.

Celery's autodiscovery imports this package, so every task module is imported here: ``ingest``
(the completion messages), ``export`` (the nightly export, beat) and ``funnel`` (the funnel's
fold, beat).
"""

from . import export, funnel, ingest  # noqa: F401  (registers their tasks)
