"""`labrunner class serve`: the instructor's live class dashboard in a browser (SPEC §8).

state.py holds what the page shows and the background rounds of class checks that feed it;
server.py serves the page, its assets, `/api/class` and the server-sent events; command.py wires
the command line to both. The page itself (static/) is plain HTML, CSS and JavaScript, no build step.
"""
