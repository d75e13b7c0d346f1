"""Test support: things tests build (models, vocabularies) and real worker servers,
not a layer of glmserve."""
