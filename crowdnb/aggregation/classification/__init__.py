"""Categorical aggregation: one module per method, crowd-kit's API, numpy inside.

Drop-in for crowd-kit 1.4.2's classification aggregators: same constructor arguments, `fit` /
`fit_predict` / `fit_predict_proba` on ``task, worker, label`` frames (plus `fit_answers` on
integer-coded `crowdnb.aggregation.base.Answers`, which `fit` calls after coding the frame;
binary relevance takes frames only), same fitted attributes, and the same results on the same
data (tested against crowd-kit's output on the reference data;
posteriors within 1e-6, labels equal). Ties go to the first label in sorted order, as in
crowd-kit. Where crowdnb differs, on purpose:

- `DawidSkene` / `OneCoinDawidSkene` stop when no posterior moves by `tol` (default 1e-8)
  between iterations; crowd-kit stops when its loss gains less than `tol`, and that loss is not
  monotone (it stops after 4 iterations on the 1979 data, far from the fixed point, even with
  ``tol=0``). Run both for a fixed number of iterations (crowdnb ``tol=0``, crowd-kit
  ``tol=-inf``) and the results agree. ``initial_error`` is not supported.
- crowd-kit leaves Dawid-Skene's posteriors clipped at 1e-10 (a side effect of its loss); here
  they sum to one.
- `MACE` takes workers and labels in sorted order and draws restart r from seed
  ``random_state + r``; crowd-kit takes them in order of first appearance (its M-step is only
  consistent when that order is sorted) and redraws the same start on every restart.
- `Wawa` and `ZeroBasedSkill` have no separate `predict` on other data; GLAD and MACE have no
  progress bars (`silent`, `verbose`).
- Missing values, unhashable labels, and gold labels no worker gave raise a ValueError naming the
  row or value, instead of failing later or silently.
"""

from crowdnb.aggregation.classification.binary_relevance import BinaryRelevance
from crowdnb.aggregation.classification.dawid_skene import DawidSkene, OneCoinDawidSkene
from crowdnb.aggregation.classification.glad import GLAD
from crowdnb.aggregation.classification.mace import MACE
from crowdnb.aggregation.classification.majority_vote import MajorityVote
from crowdnb.aggregation.classification.wawa import Wawa
from crowdnb.aggregation.classification.zero_based_skill import ZeroBasedSkill

__all__ = ["GLAD", "MACE", "BinaryRelevance", "DawidSkene", "MajorityVote", "OneCoinDawidSkene", "Wawa", "ZeroBasedSkill"]
