"""The optional libraries of the ``[office]`` extra, imported when first needed."""

from __future__ import annotations

import importlib
from typing import Any

from ..exceptions import MissingDependencyError

__all__ = ["require"]


def require(module: str) -> Any:
    """Import ``module`` of the ``[office]`` extra, or say how to install it.

    Raises:
        MissingDependencyError: the module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(module.split(".")[0], "office") from None
