"""Lazy package exports (PEP 562): a package's names are imported on first use.

A package ``__init__`` that re-exports its modules' names makes ``import pkg.module`` import
every module of the package (and everything they import: sqlglot through the warehouse
adapters, requests through the PACS clients, OpenCV through the image analysis). With
:func:`lazy_exports` the package imports nothing up front; ``from pkg import name`` and
``pkg.name`` import the module that defines ``name`` when it is first asked for. Type checkers
read the same names from an ``if TYPE_CHECKING:`` block of plain imports.

>>> getattr_, dir_ = lazy_exports("json", {"dumps": "json", "JSONDecodeError": "json.decoder"})
>>> getattr_("dumps")([1])
'[1]'
>>> "dumps" in dir_()
True
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: each name of ``exports`` comes from the
    module it maps to, imported on first use and then kept in the package's namespace."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # next time: a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
