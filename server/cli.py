"""``telekonf serve``: every setting an option and a TELEKONF_* variable."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from .config import add_arguments, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    # The media tick does many small matrix products: BLAS threads only add wake-ups
    # (measured: twice the CPU). Must be set before numpy is first imported.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = argparse.ArgumentParser(prog="telekonf", description="Telekonf conference bridge")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the service")
    add_arguments(serve)
    args = parser.parse_args(argv)
    settings = load_settings(args)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "serve":
        from aiohttp import web

        from .app import create_app

        web.run_app(
            create_app(settings),
            host=settings.http_host,
            port=settings.http_port,
            print=lambda *_: None,
            access_log=None,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
