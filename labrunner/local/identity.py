"""Fixed identities of the local AWS, shared by the server and its clients.

The admin's access key id is a constant; its secret is random, made once per LABRUNNER_HOME
and kept only there (state.admin_secret), so `eval "$(labrunner local env)"` stays valid across
server restarts and no other local user can sign as the admin.
"""

from __future__ import annotations

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
ADMIN_USER = "labrunner-admin"
ADMIN_ACCESS_KEY = "AKIALABRUNNERADMIN01"
ORG_ACCESS_ROLE = "OrganizationAccountAccessRole"
# The SigV4 service name of the server's control endpoints (/_labrunner/…), signed by the admin.
CONTROL_SERVICE = "labrunner"
