"""`python -m farm.sim up | down | serve`: the virtual lab without the farm CLI.

``serve`` is the detached process behind `farm sim up`; ``up`` and ``down`` do what the farm
CLI's `farm sim up` / `farm sim down` do.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from farm.sim.profile import PROFILES
from farm.sim.virtual_lab import DEFAULT_STATE, devices_yaml, down, serve, stopped_message, up


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m farm.sim")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("serve", "serve devices until SIGTERM"), ("up", "start a detached lab")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--count", type=int, default=1)
        command.add_argument("--profile", choices=sorted(PROFILES), default="pixel8")
        command.add_argument("--root", type=Path, default=Path("reports") / "sim")
        command.add_argument("--state", type=Path, default=DEFAULT_STATE)
        command.add_argument("--adb-port", type=int, default=None)
        command.add_argument("--start-server", action="store_true")
        command.add_argument("--insecure", action="store_true")
    stop = commands.add_parser("down", help="stop the lab `up` started")
    stop.add_argument("--state", type=Path, default=DEFAULT_STATE)
    return parser


def main() -> None:
    args = _parser().parse_args()
    if args.command == "down":
        state = down(args.state)
        print(stopped_message(state))
        return
    lab = (args.count, args.profile, args.root.absolute(), args.state, args.adb_port)
    if args.command == "serve":
        serve(*lab, args.start_server, args.insecure)
        return
    state = up(*lab, args.start_server, insecure=args.insecure)
    print(devices_yaml(state), end="")


if __name__ == "__main__":
    main()
