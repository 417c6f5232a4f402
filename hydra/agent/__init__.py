"""The self-healing loop: observe the champion, diagnose, retrain, evaluate, promote, roll back."""
