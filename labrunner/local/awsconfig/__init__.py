"""AWS Config of the local AWS: what the recorder records of S3 buckets, the managed rules that
judge them, and the compliance APIs moto leaves unimplemented.

Wired into moto by labrunner/local/fidelity/config_rules.py and config_setup.py.
"""
