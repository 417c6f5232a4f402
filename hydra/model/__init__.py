"""The trading model: bars in, signal out. Features, the classifier and its evaluation
(walk-forward, costs), the registry of fitted models, the point-in-time bar store, sizing, the
momentum baseline, and `signal` (store sync, data and prediction for a trade date).

May import: execution (the slippage model for costs), broker, reference, domain and the leaves.
Never the agent or anything above.
"""
