"""``tanjian user add | passwd | role | oidc | disable | enable | list``: the dashboards' accounts
(:mod:`workspace.accounts`).

    tanjian user add NAME --role ROLE [--password-file F] [--oidc IDENTITY] [--by WHO] [--reason R]
    tanjian user passwd NAME [--password-file F]
    tanjian user role NAME ROLE --reason R
    tanjian user oidc NAME IDENTITY --reason R      (or --unlink)
    tanjian user disable NAME --reason R
    tanjian user list

A password is read from --password-file (mode 0600, first line) or asked twice on the terminal; it never goes
on the command line. Roles and what they may do: workspace/data/roles.yaml.

OpenID Connect (``dashboards.oidc`` of the plant's YAML): a login through the provider is accepted only for an
account linked here to the identity the provider vouches for (its ``sub``, or its verified e-mail with
``match: email``); the role is the account's. ``add --oidc IDENTITY`` without --password-file makes an account
with no password login.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from tanjian.args import config_from_args, path_name


def _password(args) -> str:
    from workspace.accounts import AccountError
    from workspace.secrets import check_private

    if args.password_file is not None:
        lines = check_private(args.password_file, "the password file").read_text("utf-8").splitlines()
        return lines[0] if lines else ""
    if not sys.stdin.isatty():
        raise AccountError("no terminal to ask the password on: give --password-file FILE (mode 0600)")
    p1 = getpass.getpass("password: ")
    if getpass.getpass("again: ") != p1:
        raise AccountError("the two passwords differ")
    return p1


def _accounts(args):
    from workspace.accounts import Accounts

    return Accounts(config_from_args(args).paths.data_dir)


def cmd_add(args) -> int:
    acc = _accounts(args)
    password = None if args.oidc and args.password_file is None else _password(args)
    a = acc.add(args.name, args.role, password, by=args.by, reason=args.reason, oidc=args.oidc)
    print(f"account {a.name} added as {a.role}" + (f", OpenID identity {a.oidc}" if a.oidc else "")
          + ("" if password is not None else " (no password login)") + f" ({acc.path})")
    return 0


def cmd_passwd(args) -> int:
    _accounts(args).passwd(args.name, _password(args), by=args.by, reason=args.reason)
    print(f"password of {args.name} changed; its sessions end")
    return 0


def cmd_role(args) -> int:
    _accounts(args).set_role(args.name, args.role, by=args.by, reason=args.reason)
    print(f"{args.name} is now {args.role}; its sessions end")
    return 0


def cmd_oidc(args) -> int:
    if (args.identity is None) == (not args.unlink):
        print("tanjian user oidc: give an IDENTITY, or --unlink (not both)", file=sys.stderr)
        return 2
    _accounts(args).set_oidc(args.name, None if args.unlink else args.identity, by=args.by, reason=args.reason)
    print(f"{args.name} " + ("is no longer linked to an OpenID identity" if args.unlink else
                             f"logs in through OpenID Connect as {args.identity}") + "; its sessions end")
    return 0


def cmd_disable(args) -> int:
    _accounts(args).set_disabled(args.name, True, by=args.by, reason=args.reason)
    print(f"{args.name} disabled; its sessions end")
    return 0


def cmd_enable(args) -> int:
    _accounts(args).set_disabled(args.name, False, by=args.by, reason=args.reason)
    print(f"{args.name} enabled")
    return 0


def cmd_list(args) -> int:
    acc = _accounts(args)
    rows = acc.list()
    if not rows:
        print(f"no accounts ({acc.path}); the dashboards are open to anyone who reaches them until one is added")
    for a in rows:
        print(f"{a.name:<20} {a.role:<16} {'disabled' if a.disabled else 'active':<9} since {a.created}"
              + (f"  OpenID {a.oidc}" if a.oidc else ""))
    return 0


def add_commands(subparsers) -> None:
    """Add ``user {add,passwd,role,oidc,disable,enable,list}``."""
    p = subparsers.add_parser("user", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    s = p.add_subparsers(dest="user_command", metavar="ACTION", required=True)

    def common(x, reason_required=False):
        x.add_argument("--by", default=getpass.getuser(), help="who makes the change (default: the login name)")
        x.add_argument("--reason", required=reason_required, default="", help="why (goes into the audit trail)")

    x = s.add_parser("add", help="create an account with a role")
    x.add_argument("name")
    x.add_argument("--role", required=True, help="administrator, energy_manager, analyst, meter_reader, verifier, "
                                                 "association or regulator")
    x.add_argument("--password-file", type=path_name, help="file (mode 0600) whose first line is the password")
    x.add_argument("--oidc", metavar="IDENTITY", help="the OpenID Connect identity (sub, or e-mail with match: "
                                                      "email) this account logs in as; without --password-file: "
                                                      "no password login")
    common(x)
    x.set_defaults(func=cmd_add)
    x = s.add_parser("passwd", help="set a new password (ends the account's sessions)")
    x.add_argument("name")
    x.add_argument("--password-file", type=path_name, help="file (mode 0600) whose first line is the password")
    common(x)
    x.set_defaults(func=cmd_passwd)
    x = s.add_parser("role", help="change an account's role (ends its sessions)")
    x.add_argument("name")
    x.add_argument("role")
    common(x, reason_required=True)
    x.set_defaults(func=cmd_role)
    x = s.add_parser("oidc", help="link the account to an OpenID Connect identity (ends its sessions)")
    x.add_argument("name")
    x.add_argument("identity", nargs="?", help="the provider's sub, or the e-mail address with match: email")
    x.add_argument("--unlink", action="store_true", help="remove the link (the account keeps its password)")
    common(x, reason_required=True)
    x.set_defaults(func=cmd_oidc)
    x = s.add_parser("disable", help="refuse the account's logins and end its sessions")
    x.add_argument("name")
    common(x, reason_required=True)
    x.set_defaults(func=cmd_disable)
    x = s.add_parser("enable", help="allow a disabled account again")
    x.add_argument("name")
    common(x, reason_required=True)
    x.set_defaults(func=cmd_enable)
    x = s.add_parser("list", help="the accounts and their roles")
    x.set_defaults(func=cmd_list)
