"""The trading model: features, baseline signal (the maintenance loop builds on it)."""
