"""Files: plans, report files, the journal, and the helpers they share (JSON field
checks, the problem collector, CSV line numbers, the suffix-to-format map).
"""
