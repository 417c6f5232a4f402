"""Reference data: the markets registry (conf/markets.toml), contract months and rolls, exchange
sessions and calendars, and the clocks (wall and simulated).

May import: domain and the leaves (config, paths, params, faults, sqlite_tx).
"""
