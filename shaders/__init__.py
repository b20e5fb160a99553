"""GLSL sources of the interactive path tracer, shipped as package data."""
