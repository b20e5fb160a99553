"""Subcommands of the ``hyperinr`` CLI, one module each.

Each module defines ``register(subparsers)``, adding its parser and setting ``func`` (a callable taking the
parsed args and returning an exit code). Registration imports only argparse-level things so that
``hyperinr --help`` stays fast; heavy imports (torch, h5py) happen inside the command functions.
"""
