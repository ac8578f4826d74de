"""Exceptions raised by segeval.

Every expected failure (bad input, bad option, a missing optional
dependency) raises a :class:`SegevalError` subclass whose message names the
file, label or option at fault and says what to do. The CLI prints that
message on one line and exits with code 2.
"""

from __future__ import annotations


class SegevalError(Exception):
    """Base class of every error segeval raises on purpose."""


class InputError(SegevalError, ValueError):
    """An input array or volume cannot be scored (wrong dtype, NaN, shape...)."""


class ReadError(SegevalError, OSError):
    """A file is missing, unreadable, truncated or not the format its name says."""


class GeometryMismatchError(SegevalError, ValueError):
    """Prediction and ground truth differ in shape, spacing, origin or direction."""


class LabelSpecError(SegevalError, ValueError):
    """A ``--labels``, ``--region``, ``--label-names`` or ``--ignore-label`` value is invalid."""


class UnknownMetricError(SegevalError, ValueError):
    """A metric name is not in the registry."""


class OptionError(SegevalError, ValueError):
    """An option value is invalid (e.g. a negative tolerance)."""


class OutputError(SegevalError, OSError):
    """An output file cannot be written."""


class ReportError(SegevalError, ValueError):
    """A report file given to ``gate`` (or ``--resume``) cannot be understood."""


class ConfigError(SegevalError, ValueError):
    """A ``segeval.toml`` / ``[tool.segeval.gate]`` configuration is invalid."""


class MissingDependencyError(SegevalError, ImportError):
    """An optional dependency is needed for what was asked; the message gives the pip command."""


class Interrupted(KeyboardInterrupt):
    """A signal asked the run to stop (SIGTERM or SIGHUP, as a CI runner sends on cancel).

    A ``KeyboardInterrupt``, so that every clean-stop path Ctrl-C takes is
    taken; ``signum`` says which signal, for the exit code (128 + signum).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum
