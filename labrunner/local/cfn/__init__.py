"""CloudFormation engine pieces of the local AWS that moto lacks: resource states, dependencies."""
