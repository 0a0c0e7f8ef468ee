"""The send engine: every due step becomes an email or a rep task, exactly once.

One concern a module, in the order a batch runs them:

* :mod:`~cadence.services.advance.intake`: claim due steps (token-fenced), read what they need,
  move steps whose lead is outside its slot, hold broken cadences, create tasks, apply daily caps;
* :mod:`~cadence.services.advance.compose`: variables, template variant, render, the message's
  bytes (the preview runs the same code);
* :mod:`~cadence.services.advance.dispatch`: a producer composes and marks emails into a bounded
  queue; one consumer per SMTP connection sends them;
* :mod:`~cadence.services.advance.ledger`: the exactly-once writes around each email's final dot
  (``sending``, ``handing``, the outcome);
* :mod:`~cadence.services.advance.settle`: what each recorded outcome means, applied set-based;
* :mod:`~cadence.services.advance.loop`: the batch and the loop of batches (:func:`run_until_idle`);
* :mod:`~cadence.services.advance.work`: the claimed step (:class:`WorkItem`) and the run's report.
"""

from cadence.services.advance.compose import lead_variables, preview_email, template_variables, templates_for
from cadence.services.advance.intake import cadence_problems, resume_lapsed_pauses
from cadence.services.advance.loop import (
    BatchRunner,
    lead_zone,
    next_due,
    run_batch,
    run_until_idle,
    smtp_config,
)
from cadence.services.advance.work import RunReport, WorkItem

__all__ = [
    "BatchRunner",
    "RunReport",
    "WorkItem",
    "cadence_problems",
    "lead_variables",
    "lead_zone",
    "next_due",
    "preview_email",
    "resume_lapsed_pauses",
    "run_batch",
    "run_until_idle",
    "smtp_config",
    "template_variables",
    "templates_for",
]
