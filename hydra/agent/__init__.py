"""The agent, the self-healing loop: observe the champion, measure drift, diagnose, retrain,
evaluate, promote, roll back (`loop`), with its own journal (`journal`), drift statistics
(`drift`), P&L of the live record (`pnl`) and the operator's status view of it (`status`).

May import: model, execution, broker, reference, domain and the leaves. The model never imports
the agent: the dependency is one-way.
"""
