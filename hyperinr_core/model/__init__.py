"""The model: the hash-grid encoding, the shared MLP, INRs, the HyperINR hypernetwork, encoder positions,
the CoordNet teacher network, model files and the fastest evaluator per device (docs/ARCHITECTURE.md,
"hyperinr_core")."""
