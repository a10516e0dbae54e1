"""Aggregation: many noisy labels per task in, one answer with a confidence out.

``classification`` holds crowd-kit-compatible categorical estimators, ``geometry`` boxes,
polygons and keypoints, ``text`` transcriptions, spans and free text.
"""

from crowdnb.aggregation.classification import (
    GLAD,
    MACE,
    BinaryRelevance,
    DawidSkene,
    MajorityVote,
    OneCoinDawidSkene,
    Wawa,
    ZeroBasedSkill,
)

__all__ = ["GLAD", "MACE", "BinaryRelevance", "DawidSkene", "MajorityVote", "OneCoinDawidSkene", "Wawa", "ZeroBasedSkill"]
