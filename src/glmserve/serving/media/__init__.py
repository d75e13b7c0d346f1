"""Media loading: the image, video and PDF parts of a request, fetched and decoded into what
the engine takes."""
