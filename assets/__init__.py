"""Bundled demo models and transfer-function presets, shipped as package data."""
