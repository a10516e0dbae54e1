"""Text aggregation: transcriptions (ROVER), OCR regions, spans, free text."""

from crowdnb.aggregation.text.free_text import BestCandidate
from crowdnb.aggregation.text.ocr import OCRAggregator
from crowdnb.aggregation.text.rover import ROVER
from crowdnb.aggregation.text.spans import SpanAggregator

__all__ = ["ROVER", "BestCandidate", "OCRAggregator", "SpanAggregator"]
