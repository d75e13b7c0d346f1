"""Test support: real worker servers and the models they serve."""
