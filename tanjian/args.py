"""What the commands share: the configuration the arguments name, the store it names, errors as exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from workspace.errors import TanjianError


def config_from_args(args: argparse.Namespace):
    """The configuration named by ``--config`` (default: see :func:`workspace.config.default_path`),
    with ``--data-dir`` applied."""
    from workspace.config import load_config

    return load_config(getattr(args, "config", None), data_dir=getattr(args, "data_dir", None))


def open_store(cfg, *, create: bool = False):
    """The configuration's store (:meth:`workspace.store.Store.open`), after :func:`tanjian.startup.lazy_duck_arrays`."""
    from tanjian.startup import lazy_duck_arrays
    from workspace.store import Store

    lazy_duck_arrays()
    return Store.open(cfg.paths.store, cfg.site, create=create)


def guarded(fn: Callable[[argparse.Namespace], int],
            errors: tuple[type[BaseException], ...] = (TanjianError,)) -> Callable[[argparse.Namespace], int]:
    """``fn`` as a sub-command that prints ``error: ...`` and exits 1 on one of ``errors`` (instead of the
    traceback, or :func:`tanjian.cli.main`'s generic exit 2)."""
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except errors as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    run.__doc__ = fn.__doc__
    return run
