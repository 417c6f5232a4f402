"""CLI command modules; each has `register(app)` and is loaded by `hydra.cli`."""
