"""AWS access shared by the engine and the labs: sessions, clients, errors, polling, helpers."""
