"""Xinbao (信保): core system for financing credit & guarantee insurance."""

__version__ = "0.1.0"
