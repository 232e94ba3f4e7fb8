"""Reports read a sweep's results and never train: the Pareto front, its hypervolume, its pages.

``build_report`` (the ``gansearch report`` verb) is in ``gansearch.report.build``.
"""

from gansearch.search.hypervolume import hypervolume, reference_point
from gansearch.search.pareto import pareto_front

__all__ = ["hypervolume", "pareto_front", "reference_point"]
