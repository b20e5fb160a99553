"""HyperINR models in napari: an npe2 plugin (``napari.yaml``) with a reader and a dock widget.

- :mod:`.lazy`: the lazy array ``(*parameter steps, Z, Y, X)`` that generates and decodes on demand
  (torch and NumPy only: usable and tested without napari).
- :mod:`.reader`: opens HyperINR model files and bundles as Image layers (napari is imported lazily).
- :mod:`.widget`: the dock widget (decode resolution, steps, the parameter in model units, the shadow layer).

napari is optional (``pip install "hyperinr-explorer[napari]"``); nothing outside this package imports it.
"""
