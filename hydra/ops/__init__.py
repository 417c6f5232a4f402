"""Operations: the run index and execution of notebooks (notebook_runs/), the jobs file,
calendar slots and crontab (schedule/), the kernel manager `hydra run` uses (kernels), the
JupyterLab server (lab). Kept off the trading core: the process cron starts stays small, and
the heavy imports happen once, in the kernel.

May import: reference, domain and the leaves (in layer order it may import anything below it,
but it uses only these). Never views or cli.
"""
