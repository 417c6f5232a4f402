"""The Interactive Brokers adapter: `adapter` (IBBroker, the interface over ib_insync),
`translate` (IB's objects, numbers and dates read into Hydra's, orders checked before IB sees
them), `event_loop` (the client's asyncio loop in its own thread), `hours` (IB's trading-hours
strings), `ibapi` (the one place the IB client library is imported).

May import: broker.base, broker.safety, reference, domain and the leaves.
"""
