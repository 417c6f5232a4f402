"""The package's shape, checked: no import cycle between modules, and each top-level part imports
only the parts below it in LAYERS. Every import counts, also those inside functions or under
`if TYPE_CHECKING:`, because a cycle hidden in a function is still a cycle to a reader."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import hydra

# bottom to top; a part may import its own modules and the parts on lower lines. The leaves
# (one line) may import each other.
LAYERS: list[tuple[str, ...]] = [
    ("hydra",),  # the package root: __version__ only
    ("hydra.domain",),
    ("hydra.config", "hydra.paths", "hydra.params", "hydra.faults", "hydra.sqlite_tx"),
    ("hydra.reference",),
    ("hydra.broker",),
    ("hydra.gateway",),
    ("hydra.execution",),
    ("hydra.model",),
    ("hydra.agent",),
    ("hydra.cycle",),
    ("hydra.reconcile",),
    ("hydra.ops",),
    ("hydra.views",),
    ("hydra.cli",),
]
PACKAGE = Path(hydra.__file__).resolve().parent


def modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file, for every module under `root` (a package folder)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package modules it imports (anywhere in the file)."""
    mods = modules(root)
    top = root.name

    def known(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                # `from pkg import mod` imports the module; `from mod import name` the module
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base
                           for a in node.names]
            for t in targets:
                if t == top or t.startswith(top + "."):
                    found = known(t)
                    if found and found != name:
                        graph[name].add(found)
        graph.setdefault(name, set())
    return dict(graph)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def part_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Each import of a part from a part that is not below it, and each undeclared part."""
    rank = {part: n for n, layer in enumerate(LAYERS) for part in layer}
    leaves = rank[LAYERS[2][0]]
    problems = []
    for module in sorted(graph):
        src = part_of(module)
        if src not in rank:
            problems.append(f"{module}: part {src} is not in LAYERS (declare where it sits)")
            continue
        for target in sorted(graph[module]):
            dst = part_of(target)
            if dst == src or dst not in rank:
                continue
            if rank[dst] < rank[src] or rank[dst] == rank[src] == leaves:
                continue
            problems.append(f"{module} imports {target}: {dst} is not below {src}")
    return problems


def test_no_import_cycle_between_modules_or_parts():
    graph = import_graph(PACKAGE)
    assert cycles(graph) == []
    parts: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        parts[part_of(module)] |= {part_of(t) for t in targets} - {part_of(module)}
    assert cycles(parts) == []


def test_each_part_imports_only_the_parts_below_it():
    assert layer_violations(import_graph(PACKAGE)) == []


def test_the_checks_see_a_cycle_and_a_layer_violation(tmp_path):
    """The checks can fail: a package with a cycle inside functions and an upward import."""
    pkg = tmp_path / "hydra"
    for folder in ("domain", "cycle", "views"):
        (pkg / folder).mkdir(parents=True)
        (pkg / folder / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "cycle" / "a.py").write_text("def f():\n    from hydra.cycle import b\n")
    (pkg / "cycle" / "b.py").write_text("def g():\n    from hydra.cycle.a import f\n")
    (pkg / "domain" / "types.py").write_text("from hydra.views import show\n")
    (pkg / "views" / "show.py").write_text("from hydra.domain.types import X\n")
    graph = import_graph(pkg)
    assert ["hydra.cycle.a", "hydra.cycle.b"] in cycles(graph)
    assert ["hydra.domain.types", "hydra.views.show"] in cycles(graph)
    assert layer_violations(graph) == [
        "hydra.domain.types imports hydra.views.show: hydra.views is not below hydra.domain"]


def test_only_a_handful_of_modules_at_the_top():
    top = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert top == ["config", "faults", "params", "paths", "sqlite_tx"]


def test_every_folder_says_what_it_is_for_and_what_it_may_import():
    for init in sorted(PACKAGE.glob("*/**/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "May import" in doc, f"{init.relative_to(PACKAGE.parent)}: docstring lacks it"


def test_ops_stays_off_the_trading_core():
    """cron starts `hydra run`: that process imports reference data and the leaves, never the
    broker, execution, model, agent or cycle (the kernel imports those, once)."""
    allowed = {"hydra", "hydra.ops", "hydra.reference", "hydra.domain", *LAYERS[2]}
    graph = import_graph(PACKAGE)
    found = {f"{m} imports {t}" for m, targets in graph.items() if m.startswith("hydra.ops")
             for t in targets if part_of(t) not in allowed}
    assert found == set()
