"""The embedded engine: llama.cpp in-process (engine), its bindings (native), continuous
batching (scheduler, slots), images (vision), the worker process (worker), the default
weights, and the embedding engine on llama.cpp (embedding, embedding_worker,
embedding_weights)."""
