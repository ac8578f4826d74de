"""Challenge rankings: ``segeval.rank(reports, ...) -> Ranking`` (``segeval rank`` on the command line).

:mod:`~segeval.ranking.table` reads the submissions' reports into values
(the missing rule), :mod:`~segeval.ranking.schemes` ranks them as challengeR
defines its schemes, :mod:`~segeval.ranking.stability` re-ranks bootstrap
resamples of the cases, :mod:`~segeval.ranking.run` puts it together and
:mod:`~segeval.ranking.writers` writes it. The package is not named ``rank``,
which would shadow the function ``segeval.rank`` once imported.
"""

from segeval.ranking.run import Ranking, rank, rank_table
from segeval.ranking.table import MetricChoice, ValueTable, parse_metric, value_table

__all__ = ["MetricChoice", "Ranking", "ValueTable", "parse_metric", "rank", "rank_table", "value_table"]
