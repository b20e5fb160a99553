"""``hyperinr-explorer``: entry point of the desktop explorer."""

from __future__ import annotations

import argparse
import os
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hyperinr-explorer",
        description="Explore a HyperINR model interactively (opens the bundled demo without an argument).",
    )
    p.add_argument("model", nargs="?", help="model file, bundle or dataset to open")
    p.add_argument("--screenshot", metavar="OUT.png", help="render the window once, save it and exit")
    p.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="initial parameter value"
    )
    p.add_argument("--light", metavar="AZ,POLAR", help="initial light direction in degrees")
    p.add_argument("--shadow", choices=("none", "rays", "field"), help="initial shadow mode")
    p.add_argument("--spp", type=int, default=32, metavar="N",
                   help="with --screenshot: samples per pixel to accumulate before saving (default 32)")
    p.epilog = ("Errors in the arguments print one line and exit with code 2; Ctrl-C quits with code 130. "
                "--screenshot runs never wait for a click and leave the saved session alone.")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # large tensors on huge pages (see hyperinr_app.cli)
    from hyperinr_app.cli import cli_flag
    from hyperinr_app.explorer import run
    from hyperinr_core.errors import HyperINRError

    try:
        return run(args)
    except HyperINRError as exc:  # bad arguments or files, before a window exists; an unusable Qt binding
        print(f"hyperinr-explorer: error: {exc.render(cli_flag)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C while starting up (the window handles it once it exists)
        print("hyperinr-explorer: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
