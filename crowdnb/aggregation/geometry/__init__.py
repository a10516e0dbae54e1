"""Geometric aggregation: boxes, polygons, keypoints."""

from crowdnb.aggregation.geometry.boxes import BoxAggregator
from crowdnb.aggregation.geometry.keypoints import KeypointAggregator
from crowdnb.aggregation.geometry.polygons import PolygonAggregator

__all__ = ["BoxAggregator", "KeypointAggregator", "PolygonAggregator"]
