"""The terminal clients: ``glmserve chat``, ``glmserve run`` and ``glmserve pull``
(docs/cli.md). They talk to a server over HTTP (the local glmserve or api.z.ai) and to a
model hub; they import nothing of the server's layers."""

from glmserve.terminal.commands import COMMANDS, add_commands, run

__all__ = ["COMMANDS", "add_commands", "run"]
