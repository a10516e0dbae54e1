"""Categorical aggregation: one module per method, crowd-kit's API, numpy inside."""

from crowdnb.aggregation.classification.binary_relevance import BinaryRelevance
from crowdnb.aggregation.classification.dawid_skene import DawidSkene, OneCoinDawidSkene
from crowdnb.aggregation.classification.glad import GLAD
from crowdnb.aggregation.classification.mace import MACE
from crowdnb.aggregation.classification.majority_vote import MajorityVote
from crowdnb.aggregation.classification.wawa import Wawa
from crowdnb.aggregation.classification.zero_based_skill import ZeroBasedSkill

__all__ = ["GLAD", "MACE", "BinaryRelevance", "DawidSkene", "MajorityVote", "OneCoinDawidSkene", "Wawa", "ZeroBasedSkill"]
