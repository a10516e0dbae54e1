"""Aggregation: many noisy labels per task in, one answer with a confidence out.

``classification`` holds crowd-kit-compatible categorical estimators, ``geometry`` boxes,
polygons and keypoints, ``text`` transcriptions, spans and free text. Each family's
``__all__`` lists its estimators; `crowdnb.aggregation.methods` builds its table of methods
(by each class's ``name``) from those lists, so an estimator is listed once.
"""

from crowdnb.aggregation import classification, geometry, text
from crowdnb.aggregation.classification import *  # noqa: F403  (the family's __all__)
from crowdnb.aggregation.geometry import *  # noqa: F403
from crowdnb.aggregation.text import *  # noqa: F403

FAMILIES = (classification, geometry, text)

__all__ = sorted([*classification.__all__, *geometry.__all__, *text.__all__])
