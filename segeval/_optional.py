"""Deferred imports of optional dependencies, naming the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from segeval.errors import MissingDependencyError

_EXTRAS = {
    "cupy": ("gpu", "the GPU backend (--device gpu)"),
    "cupyx": ("gpu", "the GPU backend (--device gpu)"),
    "dask": ("dask", "Dask scheduling (--scheduler)"),
    "distributed": ("dask", "Dask scheduling (--scheduler)"),
}


def import_optional(name: str) -> ModuleType:
    """Import module ``name`` or raise :class:`MissingDependencyError` with the pip command.

    Parameters
    ----------
    name : str
        Dotted module name, e.g. ``"cupy"`` or ``"dask.distributed"``.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        top = name.split(".", 1)[0]
        extra, purpose = _EXTRAS.get(top, (None, "this feature"))
        hint = f"pip install 'segeval[{extra}]'" if extra else f"pip install {top}"
        raise MissingDependencyError(
            f"{top} is needed for {purpose} but is not installed ({exc}); install it with: {hint}"
        ) from None
