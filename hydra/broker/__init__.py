"""The broker: `base.Broker` is the one interface (the only door to a broker: nothing above
this folder knows which one it talks to), `factory` builds one from the parameters, `safety`
decides paper or live before connecting. Adapters, each in a folder of its own:
sim/ (the embedded simulated account and market), ib/ (Interactive Brokers through ib_insync).

May import: reference, domain and the leaves. Never gateway, execution or anything above.
"""
