"""The public API is exactly what inspection_flow exports."""

import types

import inspection_flow


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted and names every public attribute of the package, and nothing else."""
    public = {
        name
        for name, value in vars(inspection_flow).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert inspection_flow.__all__ == sorted(inspection_flow.__all__)
    assert set(inspection_flow.__all__) == public


def test_every_error_derives_from_the_root() -> None:
    """Every exported error class derives from InspectionFlowError."""
    for name in inspection_flow.__all__:
        obj = getattr(inspection_flow, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, inspection_flow.InspectionFlowError), name
