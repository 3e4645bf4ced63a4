"""engine.alerts sits in the engine: it imports nothing from the wiring, the adapters or the screens."""
import ast
from pathlib import Path

FORBIDDEN = ("data_sources", "damamaya", "dash", "flask", "layouts", "callbacks", "app")
PACKAGE = Path(__file__).resolve().parents[2] / "engine" / "alerts"


def test_engine_alerts_imports_no_wiring_adapters_or_screens():
    found = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert len(list(PACKAGE.glob("*.py"))) >= 8 and found == []
