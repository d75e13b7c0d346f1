"""The model's conversation format: rendering prompts with the model's own template and
parsing its output (reasoning, content, tool calls), streaming and whole.

``glm45`` (GLM-4.5/4.6) and ``glm47`` (GLM-4.7/5.x) are the GLM families, each with
``parse(text, tools, prompt=...)`` and ``parser(tools, prompt=...)``.
"""

from glmserve.chat.glm_family import GLM45 as glm45
from glmserve.chat.glm_family import GLM47 as glm47

__all__ = ["glm45", "glm47"]
