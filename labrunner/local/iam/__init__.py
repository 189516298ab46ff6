"""Server-side IAM glue: which policies apply to a principal in moto's IAM, and authorization."""
