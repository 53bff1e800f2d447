"""Frames in and out: sources by URI, outputs, photos as videos, mosaics and charts."""
