"""Metrics as pure functions (no torch models): decoding-trace metrics and task scorers."""
