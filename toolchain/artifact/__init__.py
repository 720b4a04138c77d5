"""Frozen artifacts: compact, checksummed, pickle-free model files and their size gates."""
