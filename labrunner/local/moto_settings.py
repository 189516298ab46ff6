"""moto settings that must be in the environment before moto is first imported.

moto reads several settings once, at import time; the server applies these first.
"""

from __future__ import annotations

import os

MOTO_ENVIRONMENT: dict[str, str] = {
    # AWS managed policies (SystemAdministrator, ReadOnlyAccess, …) exist in every account.
    "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
    # moto's own IAM enforcement (and its SigV4 check) stays off: fidelity/iam_enforcement.py
    # verifies signatures and authorizes instead; access.py refuses /moto-api/reset-auth, which
    # would switch moto's on.
    "INITIAL_NO_AUTH_ACTION_COUNT": "inf",
    # No CORS headers on every answer (moto adds them by default): no web page may read the local AWS.
    "MOTO_DISABLE_GLOBAL_CORS": "true",
    # Lambda functions run through fidelity/lambda_runtime.py, never Docker.
    "MOTO_DOCKER_LAMBDA_IMAGE": "",
}


def apply() -> None:
    """Put the settings into os.environ; must run before `import moto`."""
    for key, value in MOTO_ENVIRONMENT.items():
        os.environ[key] = value
