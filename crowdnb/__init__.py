"""crowdnb: crowdsourced data labeling inside Jupyter.

    import crowdnb
    project = crowdnb.Project.create("animals", kind="image-class", classes=["cat", "dog"])
    project.add_tasks(frame)   # a DataFrame with an `image` (or `text`) column
    project.annotate()         # the labeling widget
    project.labels()           # a DataFrame of labels
"""

from crowdnb.client import connect
from crowdnb.errors import Conflict, CrowdnbError, Forbidden, LabelError, NotFound, Problem, ValidationError
from crowdnb.project import Project
from crowdnb.store import Store

__version__ = "0.1.0"

__all__ = [
    "Conflict",
    "CrowdnbError",
    "Forbidden",
    "LabelError",
    "NotFound",
    "Problem",
    "Project",
    "Store",
    "ValidationError",
    "__version__",
    "connect",
]
