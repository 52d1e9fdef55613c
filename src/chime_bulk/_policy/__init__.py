"""Decisions with no I/O of their own: how to classify a failure, when to retry, how
fast to send, when to pause everyone.
"""
