"""Business files, in one home: what reaches the workspace from a desk rather than from a meter.

ERP output, electricity bills, fuel and gas invoices and financial figures become activity records; hand
readings of meters become readings. Everything here is core: the accounting (``models``) reads the
records, the configuration checks import mappings, and the app's commands and pages only call in.

=============  ============================================================================================
``contract``   the activity record: its fields and the values they allow (tables, no imports)
``mapping``    ``ImportMapping``: a configured file layout (``imports:`` in ``tanjian.yaml``), checked
``sheets``     CSV (UTF-8, GB 18030) and XLSX files into rows of cells; cells into numbers and dates
``records``    rows into validated records through a ``Layout``; units of records (pint)
``documents``  the store of imported files (one canonical JSON document each) and ``load_activity``
``imports``    ``import_file``: a file into evidence, a ledger request and a document; ``list_imports``
``reconcile``  a settlement statement against the metered energy, per time-of-use period
``manual``     hand readings: the plausibility check and the submission with a photo as evidence
=============  ============================================================================================
"""
