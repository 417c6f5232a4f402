"""Domain: the value types every layer shares, and Hydra's one error base class.

broker (the objects crossing the broker interface), market, signal, outcomes (the words a cycle
uses for what happened), fills (how executions and their corrections are counted), money (how
an amount is written), errors (HydraError). Plain dataclasses and pure functions.

May import: nothing else in Hydra (the standard library only).
"""
