"""Pacing shared beyond one process: a quota kept in Redis."""
