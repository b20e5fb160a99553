"""Evaluation: PSNR/SSIM, the paper's baselines (LERP, IDW, HashINR, CoordNet) and the held-out scores of
models and of novel-view images (docs/ARCHITECTURE.md, "hyperinr_core")."""
