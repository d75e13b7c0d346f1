"""glmserve: a self-hostable implementation of the Z.AI / BigModel GLM open platform."""

__version__ = "0.1.0"

__all__ = ["__version__"]
