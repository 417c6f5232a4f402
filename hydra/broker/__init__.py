"""Broker access: the interface (base), the embedded simulator (sim) and IB (ib)."""
