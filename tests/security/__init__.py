"""The security suite: the findings of issue #28, each with the tests that show it fixed.

1. Header and body injection into outgoing mail: belongs to the send engine rebuild (not here yet).
2. Forged inbound mail acting on leads: belongs to the replies rework (not here yet).
3. Imports holding the SQLite write lock: belongs to the import rework (not here yet).
4. The login limit: belongs to the web and users rework (not here yet).
5. Filter arguments that multiply the work (``tojson(indent=100000000)``):
   ``test_template_arguments.py``.
6. Forged access-log lines from a request path: ``test_access_log.py``.
7. Internationalised addresses refused at intake: ``test_international_addresses.py`` (the send side,
   SMTPUTF8 when offered and bounded retries, belongs to the send engine rebuild).
8. Inbound mis-readings (automatic replies, bulk mail, bounces): ``test_inbound_readings.py``.
9. A NUL byte in a form field on PostgreSQL: belongs to the web rework (not here yet).
10. Formula neutralisation for semicolon-separator locales: ``test_csv_separators.py`` (and every
    CSV export read with ``,``, ``;`` and tab in ``tests/reliability/test_csv_exports.py``).

Earlier template-injection tests live in ``tests/adapters/test_templates.py`` (``HOSTILE``).
"""
