"""Subcommands of the ``hyperinr`` CLI, one module each.

Each module defines ``register(subparsers)``, adding its parser and setting ``func`` (a callable taking the
parsed args and returning an exit code). Registration imports only argparse-level things so that
``hyperinr --help`` stays fast; heavy imports (torch, h5py) happen inside the command functions.
"""

import argparse

BACKEND_HELP = ("kernels for the hash grid and the INR: torch (the reference, every device), triton (CUDA; the "
                "default there when triton imports) or tcnn (tiny-cuda-nn, when installed); default: "
                "$HYPERINR_BACKEND, else the best available")


def add_backend_option(p) -> None:
    """``--backend``: the CLI applies it (``hyperinr_app.cli.main``) before the command runs."""
    p.add_argument("--backend", choices=("torch", "triton", "tcnn"), metavar="NAME", help=BACKEND_HELP)


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default where it has one: not "(default: None)" on required options or on options
    whose absence means something the help text says."""

    def _get_help_string(self, action):
        if action.default in (None, False, argparse.SUPPRESS) or action.required:
            return action.help
        return super()._get_help_string(action)
