"""Deferred imports of optional dependencies, naming the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np

from segeval.errors import MissingDependencyError

_EXTRAS = {
    "cupy": ("gpu", "the GPU backend (--device gpu)"),
    "cupyx": ("gpu", "the GPU backend (--device gpu)"),
    "cc3d": ("lesions", "lesion-wise metrics (--lesions)"),
    "distributed": ("dask", "running cases on a Dask cluster (batch --scheduler)"),
    "dask": ("dask", "running cases on a Dask cluster (batch --scheduler)"),
}


def import_optional(name: str) -> ModuleType:
    """Import module ``name`` or raise :class:`MissingDependencyError` with the pip command.

    Parameters
    ----------
    name : str
        Dotted module name, e.g. ``"cupy"`` or ``"cupyx.scipy.ndimage"``.
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


def array_namespace(*arrays: Any) -> Any:
    """The array-API namespace of ``arrays``: NumPy itself for NumPy arrays and scalars.

    NumPy 2.1 and later implement the standard's functions in their main
    namespace, so NumPy inputs skip ``array_api_compat``'s wrapper, whose import
    (it loads ``numpy.ma``, ``numpy.linalg`` and more) costs about 60 ms of every
    ``segeval`` run. Any other array (CuPy, ``array_api_strict``) gets
    ``array_api_compat.array_namespace``.
    """
    if _NUMPY_IS_ARRAY_API and all(isinstance(a, (np.ndarray, np.generic)) for a in arrays):
        return np
    import array_api_compat

    return array_api_compat.array_namespace(*arrays)


def array_device(x: Any) -> Any:
    """The device of array ``x`` (``"cpu"`` for NumPy), as ``array_api_compat.device`` gives it."""
    if isinstance(x, (np.ndarray, np.generic)):
        return "cpu"
    import array_api_compat

    return array_api_compat.device(x)


# np.astype, np.isdtype, np.concat, np.unique_counts: NumPy >= 2.1.
_NUMPY_IS_ARRAY_API = all(hasattr(np, f) for f in ("astype", "isdtype", "concat", "unique_counts", "unique_values"))
