"""The embeddings family: embeddings and rerank requests on embedding engines, metered as one
unit of work each."""
