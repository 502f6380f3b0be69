"""GitHub sandbox: an in-process stand-in for GitHub's REST API and webhooks.

Used by every test and by ``python -m bot demo``. It answers the operations the bot calls with
GitHub's shapes and status codes, authenticates like GitHub (App JWT, installation tokens),
sends rate-limit headers and ETags, can inject faults, and answers ``501`` to anything it does
not implement so no test passes by accident.

    from sandbox import Sandbox, generate_app_key
    key_pem, public_pem = generate_app_key()
    sb = Sandbox(app_id=1, public_key_pem=public_pem)
"""

from __future__ import annotations

from .errors import GitHubError
from .faults import Fault
from .keys import generate_app_key
from .pipeline import Call
from .sandbox import Sandbox

__all__ = ["Call", "Fault", "GitHubError", "Sandbox", "generate_app_key"]
