"""S3 server access logging of the local AWS: who may receive logs, the records, their delivery.

Wired into moto by labrunner/local/fidelity/s3_access_logs.py.
"""
