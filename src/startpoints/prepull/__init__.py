"""Pre-pull: put every language image of a catalog onto this node and keep it there.

plan (the order), state (per-image progress), gate (registry holds and quotas), budget
(the disk), superseded (what the catalog replaces), threads (the pull's workers) and
puller (the one background pull that composes them). The runtimes it pulls through are
in oci/runtime.py.
"""
