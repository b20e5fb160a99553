"""Data: dataset files, importers of user data, out-of-core streaming and the demo solvers (TGV, plume)
(docs/ARCHITECTURE.md, "Files users hand the program")."""
