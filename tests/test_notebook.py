"""The example notebook runs from top to bottom in a fresh kernel, as a new user would."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_notebook_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """examples/notebook.ipynb executes without error, and its ledger shows its counts."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    # The kernel is started as "python" from PATH: put this interpreter's first, so the
    # kernel runs where inspection_flow is installed; and use Jupyter's current paths.
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    notebook = nbformat.read(ROOT / "examples" / "notebook.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()
    shown = notebook.cells[1].outputs[0]["data"]
    assert "text/html" in shown
    assert "entities" in shown["text/plain"]
    assert "hunan-provincial-2023" in shown["text/plain"]
    snapshot = notebook.cells[3].outputs[0]["data"]["text/html"]
    assert "result_due" in snapshot
