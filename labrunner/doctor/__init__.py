"""`labrunner doctor`: is an account ready for the lab? (see command.py)"""
