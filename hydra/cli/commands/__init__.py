"""CLI command modules; each has `register(app)` and is loaded by `hydra.cli`.

May import: everything (as hydra.cli), heavy modules inside the command functions only.
"""
