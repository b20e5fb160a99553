"""Training beyond the paper's single CoordNet teacher: teachers behind one interface, validation-based
teacher selection, and the ``hyperinr train`` pipeline that distils the chosen teacher (with the ground
truth at the training parameters) into a HyperINR. See docs/ARCHITECTURE.md."""
