"""The public API is exactly what inspection_flow exports."""

import inspect
import types
import typing

import inspection_flow


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted and names every public attribute of the package, and nothing else."""
    # dir() includes what the package loads on first use (the SQL store).
    public = {
        name
        for name in dir(inspection_flow)
        if not name.startswith("_")
        and not isinstance(getattr(inspection_flow, name), types.ModuleType)
    }
    assert inspection_flow.__all__ == sorted(inspection_flow.__all__)
    assert set(inspection_flow.__all__) == public


def test_every_error_derives_from_the_root() -> None:
    """Every exported error class derives from InspectionFlowError."""
    for name in inspection_flow.__all__:
        obj = getattr(inspection_flow, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, inspection_flow.InspectionFlowError), name


def test_importing_the_package_does_not_load_sqlalchemy() -> None:
    """``import inspection_flow`` stays quick: SQLAlchemy loads only with the SQL store."""
    import subprocess
    import sys

    code = (
        "import sys, inspection_flow; "
        "assert 'sqlalchemy' not in sys.modules; "
        "inspection_flow.SQLStore; "
        "assert 'sqlalchemy' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_type_aliases_are_exported_with_their_values() -> None:
    """Lang, DeadlineStatus and CountKey are exported; the last two name exactly their values."""
    assert "Lang" in inspection_flow.__all__
    assert typing.get_args(inspection_flow.DeadlineStatus) == (
        "open",
        "met",
        "met_late",
        "cancelled",
    )
    assert typing.get_args(inspection_flow.CountKey) == (
        "state",
        "area",
        "batch",
        "category",
        "kind",
    )


def test_ledger_open_names_the_targets_it_takes() -> None:
    """Ledger.open's target is typed as a path, a URL, an Engine or a Connection."""
    annotation = inspect.signature(inspection_flow.Ledger.open).parameters["target"].annotation
    assert annotation == "str | os.PathLike[str] | sa.Engine | sa.Connection"
