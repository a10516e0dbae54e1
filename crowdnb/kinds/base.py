"""What a task kind is: its media, its label schema, its front-end view."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from crowdnb.aggregation.classification import DawidSkene
from crowdnb.aggregation.methods import Estimator
from crowdnb.errors import LabelError
from crowdnb.kinds.checks import no_options
from crowdnb.media import Media


class Kind(ABC):
    """A task kind, declared once: everything that differs between kinds lives in a subclass.

    A kind has its media adapter (`media`: the input column, the stored payload, what the
    widget shows), turns user options into a stored label configuration (`make_config`), checks
    and normalizes labels (`validate_label`, used by the widget's kernel side and again by the
    store), names the front-end view that draws its tasks (a module in
    ``crowdnb/widgets/static/views/``), has the aggregation method that turns its labels into
    one answer per task, and decides when a label counts as right on a control task (`matches`).
    """

    name: ClassVar[str]
    media: ClassVar[Media]
    view: ClassVar[str]
    # The default method of `Project.results`: an estimator class (one of
    # crowdnb.aggregation.methods.ESTIMATORS, by its `name`).
    aggregator: ClassVar[Estimator] = DawidSkene
    # Whether `validate_label` reads the task's payload (the store fetches it only then).
    label_uses_payload: ClassVar[bool] = True
    # Whether a label can be checked against a known answer by `matches` (control tasks).
    checkable: ClassVar[bool] = True

    @abstractmethod
    def make_config(self, **options: Any) -> dict[str, Any]:
        """The project's label configuration from user options; raises ValueError on bad ones."""

    def option_names(self) -> list[str]:
        """The options `make_config` takes (its keyword-only parameters)."""
        parameters = inspect.signature(self.make_config).parameters.values()
        return [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]

    def configure(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """`make_config` for options given as data (a JSON object over HTTP): a key that is not
        one of the kind's options is refused by name (ValueError), never passed on as a Python
        argument."""
        known = self.option_names()
        no_options(self.name, {k: v for k, v in options.items() if k not in known}, known)
        return self.make_config(**options)

    def options_of(self, config: dict[str, Any]) -> dict[str, Any]:
        """The options that `make_config` turns into `config` (a configuration travels as its
        options, e.g. to a server, which makes and checks it again)."""
        return dict(config)

    @abstractmethod
    def validate_label(self, label: Any, config: dict[str, Any], payload: dict[str, Any]) -> Any:
        """The label as stored (JSON-ready) for a task with `payload` (e.g. the image size or the
        text, to check geometry and offsets); raises `LabelError` naming the bad value."""

    def validate_answer(self, answer: Any, config: dict[str, Any], payload: dict[str, Any]) -> Any:
        """A control task's known answer as stored: validated like a label; refused (`LabelError`)
        by kinds whose labels cannot be checked automatically."""
        if not self.checkable:
            raise LabelError(
                f"{self.name} labels cannot be checked against a known answer automatically, so its tasks "
                "take no `answer` (control tasks); leave the column empty and review labels with an inspector"
            )
        return self.validate_label(answer, config, payload)

    def matches(self, label: Any, known: Any, config: dict[str, Any]) -> bool:
        """Whether a worker's `label` counts as right on a control task whose answer is `known`
        (both as `validate_label` returns them); equality unless the kind says otherwise."""
        return bool(label == known)
