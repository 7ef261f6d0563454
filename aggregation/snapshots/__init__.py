"""Answer snapshots and their totals: one snapshot per completed session, counts per answer.

``normalise`` validates and normalises a completion message (``upgrades`` brings older messages and
answer shapes to the current one), ``services`` is the one writer of snapshots and totals,
``backfill`` replays completed sessions through it, ``consistency`` checks the totals against the
snapshots, and ``documents`` is the one definition of a snapshot as the staff API and the export
show it.
"""
