"""The rehearsal gateway (`hydra sim-gateway`): a TWS-protocol server in front of the simulated
broker, so the IB adapter (or any IB client) can be rehearsed without IB. `protocol` (framing
and the handshake), `messages` (encoding and decoding), `server` (the sessions), `faults` (the
replies it can be told to get wrong, by name).

May import: broker (base, sim, ib.hours), reference, domain and the leaves.
"""
