"""Prompt texts of the VLM judge, shipped as package data and read with ``importlib.resources``."""
