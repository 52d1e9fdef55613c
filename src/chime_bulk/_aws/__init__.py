"""AWS access: aiobotocore clients made the way a bulk run needs them, and the reads of
a meeting (its attendees, its media features).
"""
