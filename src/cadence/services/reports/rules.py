"""The rules behind the report's numbers (:data:`RULES`, printed with every report) and their constants."""

EXECUTED_STATES = ("sent", "done", "bounced", "uncertain")
"""Touch states of a step that was carried out: an email handed to SMTP, or a task created."""
RESPONSE_KINDS = ("reply", "call", "manual")
"""Responses that count as the lead answering (an auto-reply or a bounce does not)."""
CONTACT_TASK_CHANNELS = ("call", "linkedin", "postcard")
"""Tasks that reach the lead when done (research does not)."""
MEETING_OUTCOMES = ("meeting_booked", "qualified_handoff")
HANDOFF_OUTCOME = "qualified_handoff"
ON_TIME_GRACE_SECONDS = 86_400
"""A task is on time when completed no later than one day after it was due."""
ALPHA = 0.05
MIN_SENDS = 30
TOP_REASONS = 10
MAX_FLAGGED = 50

RULES = (
    "Period: enrollments whose enrolled_at is in [since, until); names, unfit and leads whose created_at is. "
    "Steps, tasks, responses and decisions are those of the enrollments in the period, whenever they happened; "
    "decisions tied to no enrollment and tasks tied to no enrollment are selected by decided_at and created_at.",
    "Contacted: at least one email accepted by the SMTP server, or one call, LinkedIn or postcard task done "
    "(not skipped). Responded: a reply, a connected call or a recorded response received after enrollment "
    "(auto-replies and bounces are not responses).",
    "Each enrollment counts its latest decision (an automatic no_response replaced by a later decision is "
    "'superseded'). Meetings booked: meeting_booked or qualified_handoff; handed off: qualified_handoff.",
    "Attribution: a reply belongs to the email it names (its touch), else to the last email sent to the lead in "
    "that enrollment before it arrived; an unsubscribe to the last email sent before the decision.",
    "Bounces: emails refused by the SMTP server, and the last email sent before a decision 'bounced' (a bounce "
    "message without that decision may be a delay and is not counted).",
    "Emails sent: accepted by the SMTP server (uncertain sends are not counted). Replies: emails sent with at least "
    "one attributed reply; reply rate = replies / emails sent.",
    "Tasks: on time = completed_at <= due_at + 1 day; late = completed after that; skipped = completed with outcome "
    "'skipped'; overdue = open and due before now. Cancelled tasks are not counted.",
    f"Variants: {ALPHA:g} significance with a two-proportion z-test (pooled, two-sided) for two variants and a "
    f"chi-square test of homogeneity for more; 'meaningful' needs p < {ALPHA:g} and at least {MIN_SENDS} sends per "
    "variant. Looking every week and stopping at the first p < 0.05 overstates it: fix the number of sends first.",
    "Times are in hours from enrolled_at; the median is the middle value (the mean of the two middle ones).",
    "Accounts: the companies of the period's leads. Touched: one contact contacted; engaged: contacts that "
    "responded (two or more counted); meetings per account: the meetings booked among its contacts' decisions.",
)
