"""The embedded simulated broker: `broker` (SimBroker: the account, its orders and matching, in
SQLite) and `market` (the seeded market it trades against: quotes, bars, fills).

May import: broker.base, reference, domain and the leaves.
"""
