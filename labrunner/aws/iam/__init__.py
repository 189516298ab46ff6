"""IAM helpers shared by labs: a role's policies, effective permissions, and least-privilege checks.

* `roles`: a role read once (trust policy, inline and attached documents, boundary);
* `evaluators`: effective permissions from an `Evaluator` — IAM's policy simulator for a live role
  or for loose documents, or the project's pure evaluator client-side;
* `resources`: the lab's resources and a service's action space to probe them with;
* `checks`: the least-privilege checks (trust, admin, basic execution, DynamoDB, SQS);
* `offenders`: naming the policy statement that grants too much, and what to click;
* `lab_policies`: the documents `solve` writes; `changes`: when a role's permissions last changed;
* `names`: the lab's policy names and the actions the function needs.
"""
