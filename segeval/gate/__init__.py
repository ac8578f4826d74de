"""The quality gate: judge a report against bars and a baseline, for CI.

* :mod:`segeval.gate.checks`: what a bar is (:class:`Check`, :func:`parse_check`);
* :mod:`segeval.gate.config`: ``segeval.toml`` / ``[tool.segeval.gate]`` and
  the merge of command-line checks over it (:func:`checks_from_options`);
* :mod:`segeval.gate.judge`: :func:`judge`, which returns a :class:`GateResult`;
* :mod:`segeval.gate.stats`: the paired bootstrap interval and Wilcoxon test.

Nothing here prints or exits; :mod:`segeval.report.gate_render` renders a
result and the CLI turns it into an exit code.
"""

from segeval.gate.checks import (
    CASE_METRICS,
    KINDS,
    STATS,
    Check,
    metrics_needed,
    parse_check,
    parse_stat,
)
from segeval.gate.config import (
    CONFIG_FILE,
    GateConfig,
    checks_from_options,
    find_config,
    read_config,
)
from segeval.gate.judge import CheckResult, GateResult, judge, mean_change, plural
from segeval.gate.stats import SIGNIFICANCE, bootstrap_ci, wilcoxon_p
from segeval.gate.values import ReportValues, report_values
from segeval.summary import statistic

__all__ = [
    "CASE_METRICS",
    "CONFIG_FILE",
    "KINDS",
    "SIGNIFICANCE",
    "STATS",
    "Check",
    "CheckResult",
    "GateConfig",
    "GateResult",
    "ReportValues",
    "bootstrap_ci",
    "checks_from_options",
    "find_config",
    "judge",
    "mean_change",
    "metrics_needed",
    "parse_check",
    "parse_stat",
    "plural",
    "read_config",
    "report_values",
    "statistic",
    "wilcoxon_p",
]
