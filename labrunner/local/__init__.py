"""The embedded local AWS: moto plus a fidelity layer (one module per gap, in `fidelity/`)."""
