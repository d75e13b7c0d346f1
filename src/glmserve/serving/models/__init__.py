"""The served models: their loading (registry) and the engine registry that builds the engine
of each model's kind (engines)."""
