"""Test support: what tests build (models, vocabularies) and the real worker servers they
start; not a layer of glmserve."""
