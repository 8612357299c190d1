"""Batch jobs and the command-line interface (``graphrag ...``)."""
