"""Execution: the risk gate (the only way an order reaches a broker), the order manager
(limit-patience and TWAP), legs (the orders from a position to a target), the slippage model,
the kill switch, the orphaned-kernel guard, and the fill journal with its codec and fill sync.
The maths (risk checks, slippage, legs) are pure functions on values.

May import: broker, gateway (never in practice), reference, domain and the leaves.
"""
