"""The interactive GL path: a GLSL path tracer (``shaders/``) behind vispy, embedded by the explorer.

Imports vispy (and, through the canvas, Qt); the torch half of :mod:`renderer` never imports this package.
"""

from .canvas import PathTracerCanvas
from .still import render_offscreen
from .tracer import GLPathTracer, TraceSettings

__all__ = ["PathTracerCanvas", "render_offscreen", "GLPathTracer", "TraceSettings"]
