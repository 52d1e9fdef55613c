"""The run: workers pulling the plan, the one attempt path (`Sender`), and the state
that a run's requests share.
"""
