"""Test support: things tests build (models, vocabularies), not a layer of glmserve."""
