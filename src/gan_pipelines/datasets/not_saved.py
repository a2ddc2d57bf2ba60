"""``NotSavedDataset``: what a run that must write nothing saves to.

Node K > 0 of a training across several machines (``training.node_rank`` > 0) trains with node 0
but must leave every file to node 0, so that the machines can share one project folder. Before
such a run starts, :class:`gan_pipelines.hooks.OtherNodeHooks` puts one of these in place of each
dataset the run would write (see :mod:`gan_pipelines.training.distributed`). Saving to it writes
nothing and logs that it did not; loading from it (a later node of the same run asking for what
was not saved) fails with the reason.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from kedro.io.core import AbstractDataset, DatasetError

logger = logging.getLogger(__name__)


class NotSavedDataset(AbstractDataset[Any, Any]):
    """Stands in for the dataset ``name``: ``save`` logs ``"<name>: not saved (<reason>)"`` and
    writes nothing; ``load`` raises DatasetError with the reason.

    Args:
        name: The dataset it stands in for (``<family>.generator_checkpoint``).
        reason: Why nothing is saved, a clause (``"node 1 of 2 of ...; node 0 saves"``).
    """

    def __init__(self, *, name: str, reason: str) -> None:
        self._name = name
        self._reason = reason

    def save(self, data: Any) -> None:
        logger.info("%s: not saved (%s).", self._name, self._reason)

    def load(self) -> NoReturn:
        raise DatasetError(f"{self._name} was not saved in this run ({self._reason}), so there is nothing to load; "
                           "on the other nodes run only the training pipeline")

    def _exists(self) -> bool:
        return False

    def _describe(self) -> dict[str, Any]:
        return {"name": self._name, "reason": self._reason}
