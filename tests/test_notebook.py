"""The tutorial notebook runs headless, top to bottom, and shows accuracy and a verified build."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import need_verilator

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "tutorial.ipynb"


@pytest.mark.rtlsim
def test_tutorial_notebook_runs(tmp_path):
    need_verilator()
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # the notebook writes runs/tutorial/ relative to its working directory: keep it in tmp
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "\n".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                     for out in cell.get("outputs", []))
    errors = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
              if out.get("output_type") == "error"]
    assert not errors
    assert "rtlsim test accuracy: 0." in text and "test accuracy (torch)" in text
    assert "\nverified" in text and "NOT verified" not in text
    assert "logits identical: True" in text
    assert (tmp_path / "runs" / "tutorial" / "build" / "deploy.zip").is_file()
