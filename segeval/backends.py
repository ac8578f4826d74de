"""Where the arrays live: NumPy on the CPU or CuPy on a GPU. The only module that tells them apart.

A :class:`Backend` bundles an array namespace with its ``ndimage`` and the two
moves across the host/device boundary. Scoring moves each label volume to
the backend once (:meth:`Backend.to_device`) and brings back only small
per-class results (:meth:`Backend.to_host`); metric code asks
:func:`backend_of` which library an array belongs to instead of testing
module names itself.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np

from segeval.errors import MissingDependencyError, OptionError

__all__ = ["DEVICES", "Backend", "backend_of", "get_backend", "gpu_available", "to_host"]

#: Values of ``--device`` / ``device=``.
DEVICES: tuple[str, ...] = ("cpu", "gpu", "auto")


@dataclass(frozen=True)
class Backend:
    """An array library and how arrays cross to it and back.

    Attributes
    ----------
    name : {"cpu", "gpu"}
        ``"cpu"``: NumPy and SciPy. ``"gpu"``: CuPy and cupyx.
    xp : module
        The array namespace (``numpy`` or ``cupy``).
    """

    name: str
    xp: ModuleType

    @property
    def is_gpu(self) -> bool:
        """True for CuPy."""
        return self.name == "gpu"

    @property
    def ndimage(self) -> ModuleType:
        """``scipy.ndimage`` or ``cupyx.scipy.ndimage`` (imported on first use)."""
        return importlib.import_module("cupyx.scipy.ndimage" if self.is_gpu else "scipy.ndimage")

    def to_device(self, x: Any) -> Any:
        """``x`` as an array of this backend (no copy for a NumPy array on the CPU)."""
        return x if not self.is_gpu else self.xp.asarray(x)

    def to_host(self, x: Any) -> np.ndarray:
        """``x`` as a NumPy array (one transfer from a GPU)."""
        return to_host(x)


_CPU = Backend("cpu", np)


def to_host(x: Any) -> np.ndarray:
    """A small array of any backend (counts, per-class values) as a NumPy array."""
    if isinstance(x, np.ndarray):
        return x
    if _is_cupy(x):
        return np.asarray(x.get())
    try:
        return np.asarray(x)
    except (TypeError, ValueError, RuntimeError):
        return np.from_dlpack(x)


def _is_cupy(x: Any) -> bool:
    return type(x).__module__.split(".", 1)[0] == "cupy"


def backend_of(*arrays: Any) -> Backend:
    """The backend the arrays live on: GPU when any is a CuPy array, else the CPU.

    Examples
    --------
    >>> backend_of(np.zeros(3)).name
    'cpu'
    """
    if any(_is_cupy(a) for a in arrays):
        return _gpu_backend()
    return _CPU


@cache
def _gpu_backend() -> Backend:
    from segeval._optional import import_optional

    return Backend("gpu", import_optional("cupy"))


def gpu_available() -> tuple[bool, str]:
    """(True, "") when CuPy imports and sees a CUDA device, else (False, why, with the fix)."""
    if importlib.util.find_spec("cupy") is None:
        return False, "CuPy is not installed; install it with: pip install 'segeval[gpu]'"
    try:
        import cupy

        n = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:  # noqa: BLE001 - any CUDA failure means "no usable GPU"
        return False, f"CuPy is installed but no usable CUDA device was found ({' '.join(str(exc).split())})"
    if n == 0:
        return False, "CuPy is installed but no CUDA device was found"
    return True, ""


def get_backend(device: str | Backend = "cpu") -> Backend:
    """The backend for ``--device``: ``"cpu"``, ``"gpu"`` or ``"auto"`` (the GPU when there is one).

    Raises
    ------
    OptionError
        For an unknown value.
    MissingDependencyError
        For ``"gpu"`` without CuPy or a CUDA device, with the install command.

    Examples
    --------
    >>> get_backend("cpu").name
    'cpu'
    """
    if isinstance(device, Backend):
        return device
    name = str(device).lower()
    if name not in DEVICES:
        raise OptionError(f"--device: expected cpu, gpu or auto; got {device!r}")
    if name == "cpu":
        return _CPU
    ok, why = gpu_available()
    if not ok:
        if name == "gpu":
            raise MissingDependencyError(f"--device gpu: {why}")
        return _CPU
    return _gpu_backend()
