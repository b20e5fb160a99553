"""Test-session setup shared by every folder.

Without CUDA, Triton's kernels run under its interpreter: ``TRITON_INTERPRET=1`` must be set before the
kernels are defined (when :mod:`hyperinr_core.model.triton_grid` is imported), so it is set here, first.
It changes nothing else: the backend on a CPU stays ``torch`` unless a test forces ``triton``.
"""

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
