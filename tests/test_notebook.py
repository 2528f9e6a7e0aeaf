"""docs/notebooks/quickstart.ipynb runs from top to bottom (nbclient), so it cannot rot."""

from __future__ import annotations

from pathlib import Path


NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "notebooks" / "quickstart.ipynb"


def test_the_quickstart_notebook_runs(tmp_path):
    import nbclient  # the test extra's: a missing one fails here, it does not skip
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if a cell fails
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "12 of 12 runs ok" in text
    # the riot's events as a DataFrame: what was printed of them and the situations shown
    assert "stone_thrown" in text
    shown = "".join(o.get("data", {}).get("text/plain", "") for o in outputs)
    assert "yellow" in shown and "red" in shown
    assert any("image/png" in o.get("data", {}) for o in outputs)
