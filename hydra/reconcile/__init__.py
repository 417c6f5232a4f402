"""Reconciliation: the fill report behind notebooks/reconciliation.ipynb (`fill_report`), the
slippage TCA (`tca`) and the breaks between the journal and the broker (`breaks`).

May import: cycle, agent, model, execution, broker, gateway, reference, domain and the leaves.
Never ops, views or cli.
"""
