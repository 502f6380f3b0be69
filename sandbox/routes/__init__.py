"""The REST operations the sandbox implements, one module per area of GitHub's API.

Operation ids are GitHub's (``issues/create``, ``checks/update``, ...); ``ENDPOINTS`` is the
complete list, and anything else answers 501.
"""

from __future__ import annotations

from ..routing import Endpoint
from . import apps, checks, issues, pulls, repos, search

ENDPOINTS: list[Endpoint] = [
    *apps.routes.endpoints,
    *issues.routes.endpoints,
    *pulls.routes.endpoints,
    *checks.routes.endpoints,
    *repos.routes.endpoints,
    *search.routes.endpoints,
]

__all__ = ["ENDPOINTS"]
