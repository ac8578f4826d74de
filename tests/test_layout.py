"""The package's layout: imports point down a fixed stack of layers, with no cycle.

Every ``import`` in ``segeval/`` is read from the source (module-level and
inside functions alike, so a deferred import cannot hide an upward arrow),
and each module's layer is looked up in :data:`LAYERS`. A module may import
only from its own layer or a lower one, and the graph of imports between
modules must be acyclic.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "segeval"

#: Bottom to top. A module not listed here fails the test: a new module must say where it belongs.
LAYERS: tuple[tuple[str, ...], ...] = (
    # plain data and the errors everything raises
    ("segeval._version", "segeval.errors", "segeval.records", "segeval._optional", "segeval._malloc",
     "segeval.backends"),
    # the rules options must meet, and the numba runtime
    ("segeval.metrics._checks", "segeval.metrics._numba"),
    # the metric core: arrays in, arrays out
    ("segeval.metrics._hist_numpy", "segeval.metrics._hist_jit", "segeval.metrics.confusion",
     "segeval.metrics._inputs", "segeval.metrics.overlap", "segeval.metrics.boundaries", "segeval.metrics._surfel_tables", "segeval.metrics.surfels",
     "segeval.metrics.surface"),
    # lesion-wise protocols: components, matching, per-case numbers (arrays in, numbers out)
    ("segeval.lesions.protocols", "segeval.lesions._kernels", "segeval.lesions.components", "segeval.lesions.brats2024",
     "segeval.lesions.matching",
     "segeval.lesions.aggregate", "segeval.lesions"),
    ("segeval.metrics.registry", "segeval.metrics"),
    # volumes and files, label sets, settings
    ("segeval.volume", "segeval.labels"),
    ("segeval.io._content", "segeval.io._gzip", "segeval.io", "segeval.io.nifti", "segeval.io.itk", "segeval.io.npy",
     "segeval.settings"),
    # one case, and statistics over cases
    ("segeval.lesions.outputs", "segeval.summary", "segeval.scoring", "segeval.info"),
    # reading and writing reports; running batches
    ("segeval.report.numbers", "segeval.report.fitting", "segeval.report.overview", "segeval.report.reading",
     "segeval.report.writers", "segeval.report.nnunet",
     "segeval.report.terminal", "segeval.report._plots", "segeval.report",
     "segeval.batching.pairing", "segeval.batching.pool", "segeval.batching.cluster",
     "segeval.batching.journal", "segeval.batching.run", "segeval.batching.folders", "segeval.batching",
     "segeval.check"),
    # judging reports, and rendering the judgement
    ("segeval.gate.checks", "segeval.gate.stats", "segeval.gate.config", "segeval.gate.values", "segeval.gate.judge",
     "segeval.gate"),
    # challenge rankings of several reports (the missing rule, the schemes, the bootstrap)
    ("segeval.ranking._wilcoxon_jit", "segeval.ranking.schemes", "segeval.ranking.stability", "segeval.ranking.table", "segeval.ranking.run",
     "segeval.ranking.writers", "segeval.ranking"),
    # rendering judgements and the HTML page (its paired change is gate.stats' bootstrap)
    ("segeval.report.gate_render", "segeval.report.html", "segeval.report.rank_html"),
    # the command line, and the public API at the top
    ("segeval.cli._app", "segeval.cli._common", "segeval.cli._feedback", "segeval.cli.score", "segeval.cli.info", "segeval.cli.gate",
     "segeval.cli.batch", "segeval.cli.check", "segeval.cli.metrics", "segeval.cli.report", "segeval.cli.rank", "segeval.cli"),
    ("segeval", "segeval.__main__"),
)
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(name: str) -> set[str]:
    """The segeval modules ``name`` imports (``from segeval.x import y`` counts y when it is a module)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base]).strip(".")
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        found.update(t for t in targets if t.split(".")[0] == "segeval" and t in MODULES)
    found.discard(name)
    return found


GRAPH = {name: _imports(name) for name in MODULES}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_has_a_layer(name: str) -> None:
    assert name in LAYER, f"{name}: add it to LAYERS in tests/test_layout.py, in the layer it belongs to"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down(name: str) -> None:
    upward = sorted(m for m in GRAPH[name] if LAYER.get(m, -1) > LAYER.get(name, -1))
    assert not upward, f"{name} (layer {LAYER.get(name)}) imports higher layers: {upward}"


def test_the_import_graph_has_no_cycle() -> None:
    state: dict[str, int] = {}  # 1 visiting, 2 done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(GRAPH):
        if node not in state:
            visit(node)


def _top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("name", sorted(MODULES))
def test_only_the_cli_imports_typer_and_only_cli_and_report_import_rich(name: str) -> None:
    used = _top_level_imports(MODULES[name])
    if not name.startswith("segeval.cli"):
        assert "typer" not in used, name
        if not name.startswith("segeval.report"):
            assert "rich" not in used, name


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_print_outside_the_cli(name: str) -> None:
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    calls = [n.lineno for n in ast.walk(tree)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"]
    assert not calls, f"{name} calls print() at lines {calls}; return values, the CLI prints"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_readable(name: str) -> None:
    """About 500 lines at most, unless the module's docstring says why it is one cohesive thing."""
    text = MODULES[name].read_text(encoding="utf-8")
    n = text.count("\n")
    doc = ast.get_docstring(ast.parse(text)) or ""
    assert n <= 530 or "cohesive" in doc, f"{name}: {n} lines; split it, or say in its docstring why not"
