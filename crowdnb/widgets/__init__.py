"""Labeling widgets (anywidget front ends) and the protocol they need from a task source."""

from crowdnb.widgets.inspector import Inspector, ReviewSource
from crowdnb.widgets.labeler import Labeler
from crowdnb.widgets.plugin import PluginLabeler
from crowdnb.widgets.source import Item, SourceUnavailable, TaskSource

__all__ = ["Inspector", "Item", "Labeler", "PluginLabeler", "ReviewSource", "SourceUnavailable", "TaskSource"]
