"""The command groups of ``tanjian``, one module each; :data:`tanjian.cli.COMMANDS` says which command is whose.

Every group module has ``add_commands(subparsers)``, which adds all of its commands (each sub-parser with
``func``: ``args -> exit code``); their one-line help for ``tanjian --help`` is in the table, not here.
"""
