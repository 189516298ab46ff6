"""Fixed identities of the local AWS, shared by the server and its clients.

The admin keys are constants so that `eval "$(labrunner local env)"` stays valid across
server restarts; they only ever work against 127.0.0.1.
"""

from __future__ import annotations

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
ADMIN_USER = "labrunner-admin"
ADMIN_ACCESS_KEY = "AKIALABRUNNERADMIN01"
ADMIN_SECRET_KEY = "labrunner/local/admin/secret/key/000000"
ORG_ACCESS_ROLE = "OrganizationAccountAccessRole"
