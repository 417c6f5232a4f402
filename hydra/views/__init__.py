"""Views: everything that displays. The cycle's banner and tables (`cycle`) and charts
(`cycle_charts`), the reconciliation's (`reconcile`, `reconcile_charts`), the loop's decisions
(`loop`), the review across runs (`review`), and the table formatting they share (`tables`).

May import: everything below it (ops, reconcile, cycle, agent, model, execution, broker,
reference, domain, leaves). Never cli.
"""
