"""The package's layers, read from its source with ``ast`` (every import, module level or inside a function):
the module graph has no cycle, the decoding engine never imports a model family or
lm-eval, the metrics never import torch or a model, and the installed package never imports research code or
test fixtures."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "lm_eval_mdlm"

KNOWN_CYCLES: set[tuple[str, str]] = set()
"""Import edges allowed to close a cycle: none (DiffusionGemma's decoder implements the ``Decoder`` interface of
the engine layer instead of subclassing ``Denoiser``, which broke the last one)."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute names (relative imports resolved), wherever the import sits."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return found


def _graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (a ``from pkg import name`` counts when ``name`` is a module)."""
    raw = {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}
    return {module: {m for m in imports if m in raw and m != module} for module, imports in raw.items()}


def _cyclic(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan): each is an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: set[str] = set()
            while node not in component:
                component.add(stack.pop())
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_module_graph_has_no_cycle() -> None:
    graph = _graph()
    assert len(graph) > 50 and "lm_eval_mdlm.families.registry" in graph  # the walk sees the package
    for source, target in KNOWN_CYCLES:
        graph[source].discard(target)
    assert _cyclic(graph) == [], "an import cycle; break it (a leaf module for what both sides need)"


def test_the_cycle_check_finds_a_cycle() -> None:
    """The check itself can fail: a two-module and a three-module loop are reported, a chain is not."""
    assert _cyclic({"a": {"b"}, "b": {"a"}, "c": set()}) == [{"a", "b"}]
    assert _cyclic({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [{"a", "b", "c"}]
    assert _cyclic({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def _imports_of(prefix: str) -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py") if _module_name(p).startswith(prefix)}


def test_the_engine_imports_no_model_family_and_no_lm_eval() -> None:
    engine = _imports_of("lm_eval_mdlm.decoding")
    assert engine, "no decoding modules found"
    for module, imports in engine.items():
        bad = {m for m in imports if m.startswith(("lm_eval_mdlm.families", "lm_eval_mdlm.model", "transformers"))
               or m == "lm_eval" or m.startswith("lm_eval.")}
        assert not bad, f"{module} imports {sorted(bad)}: the engine sees a model only through its forward"


def test_metrics_import_no_torch_and_no_model() -> None:
    metrics = _imports_of("lm_eval_mdlm.metrics")
    assert metrics, "no metrics modules found"
    for module, imports in metrics.items():
        bad = {m for m in imports if m.split(".")[0] in ("torch", "transformers")
               or m.startswith(("lm_eval_mdlm.families", "lm_eval_mdlm.model", "lm_eval_mdlm.decoding"))}
        assert not bad, f"{module} imports {sorted(bad)}: metrics are pure functions of answers and traces"


def test_the_package_imports_no_research_code_and_no_test_fixture() -> None:
    for module, imports in _imports_of("lm_eval_mdlm").items():
        bad = {m for m in imports if m.split(".")[0] in ("research", "tests")}
        assert not bad, f"{module} imports {sorted(bad)}, which `pip install .` does not ship"
