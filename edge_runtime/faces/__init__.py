"""Faces found, their landmarks located, cut onto a template and vetted; regions of any model."""
