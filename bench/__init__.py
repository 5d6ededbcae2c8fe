"""The benchmark of record (see run.py)."""
