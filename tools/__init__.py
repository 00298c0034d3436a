"""Maintenance tools that are not part of the runtime package (table generators)."""
