"""Stored work: async chat tasks and batch lines, run later through the same pipeline."""
