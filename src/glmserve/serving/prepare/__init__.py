"""Preparing a chat completion: what a request forces (constraints), how it samples
(sampling), and how its thinking and tool calls are steered (steering_plan)."""
