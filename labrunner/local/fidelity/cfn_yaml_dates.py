"""Gap: moto reads a YAML template's unquoted dates (`Version: 2012-10-17`) as `datetime.date`, so
a stack whose policy says so fails (`Object of type date is not JSON serializable`).

AWS: CloudFormation User Guide, "CloudFormation template format" (YAML: "CloudFormation supports
the YAML Version 1.1 specification with a few exceptions") and "Template format version syntax",
whose own YAML example is the unquoted `AWSTemplateFormatVersion: 2010-09-09`
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-formats.html,
…/format-version-structure.html). CloudFormation keeps such values as the strings written: the
lab's official template (`Version: 2012-10-17` in every policy) deploys on AWS, and the IAM
policy grammar requires `"Version": "2012-10-17"` as a string.

moto parses every template with PyYAML's `yaml.Loader` (cloudformation/models.py, responses.py);
here that loader constructs a timestamp as the scalar text it was written as. No other code of
the server reads YAML with `yaml.Loader` (labrunner's own reader, labrunner.aws.cfn, does the same
on its SafeLoader). cfn-lint's decoder (cfnlint.decode) was considered: it keeps dates as
`datetime.date` too.
"""

from __future__ import annotations

from labrunner.local.hooks import ServerHooks


def install(hooks: ServerHooks) -> None:
    import yaml

    from labrunner.aws.cfn import TIMESTAMP_TAG, timestamp_as_written

    yaml.add_constructor(TIMESTAMP_TAG, timestamp_as_written, Loader=yaml.Loader)  # type: ignore[arg-type]
