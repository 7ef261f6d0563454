"""The staff funnel at scale: rollups folded from telemetry by the worker, read per start window.

``figures`` holds the rules (marks, arms, friction, duration buckets), ``direct`` the reference
computation, ``fold`` the worker's incremental fold, ``window`` the read, ``consistency`` the
check and the rebuild. See docs/pipeline.md, "The funnel's rollups".
"""

from .consistency import FunnelDrift, funnel_drift, funnel_rebuild
from .direct import funnel_direct
from .figures import BUCKET_ERROR, FRICTION_CAP_PER_SESSION, OCCURRENCES, SESSIONS, StepFigures
from .fold import FoldOutcome, funnel_fold, funnel_forget, funnel_watermark
from .window import funnel_figures

__all__ = [
    "BUCKET_ERROR",
    "FRICTION_CAP_PER_SESSION",
    "OCCURRENCES",
    "SESSIONS",
    "FoldOutcome",
    "FunnelDrift",
    "StepFigures",
    "funnel_direct",
    "funnel_drift",
    "funnel_figures",
    "funnel_fold",
    "funnel_forget",
    "funnel_rebuild",
    "funnel_watermark",
]
