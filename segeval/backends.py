"""The only module that names NumPy/CuPy backends: availability and array moves."""

from __future__ import annotations

import importlib.util


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


def resolve_device(device: str) -> str:
    """``"cpu"``, ``"gpu"`` or ``"auto"`` -> the backend to use; ``"gpu"`` without one is an error.

    Raises
    ------
    OptionError
        For an unknown value.
    MissingDependencyError
        For ``"gpu"`` without CuPy or a CUDA device, with the install command.
    """
    from segeval.errors import MissingDependencyError, OptionError

    device = device.lower()
    if device not in ("cpu", "gpu", "auto"):
        raise OptionError(f"--device: expected cpu, gpu or auto; got {device!r}")
    if device == "cpu":
        return "cpu"
    ok, why = gpu_available()
    if device == "gpu" and not ok:
        raise MissingDependencyError(f"--device gpu: {why}")
    return "gpu" if ok else "cpu"
