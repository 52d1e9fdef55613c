"""The data chime-bulk works on: capabilities, updates, results and reports,
validation, errors. No I/O, no AWS, no clock of its own.
"""
