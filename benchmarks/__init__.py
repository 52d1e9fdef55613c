"""Side-by-side benchmarks of chime-bulk against the usual ways to call the API in bulk.

Run everything with ``python -m benchmarks.run`` from the repository root; see README.md.
"""
