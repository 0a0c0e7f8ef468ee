"""Outbound webhooks: subscriptions, the transactional outbox and the deliveries.

- ``subscriptions.py``: adding, listing, pausing, resuming and removing endpoints;
- ``outbox.py``: events written in the transaction of what they report (:func:`record`);
- ``delivery.py``: sending what is due, signed, in order per lead, retried, then dead-lettered.
"""
