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
from crowdnb.aggregation.geometry import BoxAggregator, KeypointAggregator, PolygonAggregator
from crowdnb.aggregation.text import ROVER, BestCandidate, OCRAggregator, SpanAggregator

__all__ = [
    "GLAD",
    "MACE",
    "ROVER",
    "BestCandidate",
    "BinaryRelevance",
    "BoxAggregator",
    "DawidSkene",
    "KeypointAggregator",
    "MajorityVote",
    "OCRAggregator",
    "OneCoinDawidSkene",
    "PolygonAggregator",
    "SpanAggregator",
    "Wawa",
    "ZeroBasedSkill",
]
