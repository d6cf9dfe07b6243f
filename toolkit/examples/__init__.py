"""Small example models for the book's Toolkit chapters: user code, *not* in the
:mod:`toolkit.models` registry (``tk.landscape`` takes them as they are)."""

from toolkit.examples.tiny_mlp import TinyMLP

__all__ = ["TinyMLP"]
