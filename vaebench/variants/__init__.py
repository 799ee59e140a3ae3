"""Registry of VAE variants, selectable by name.

Every module in this package is imported on first use, so adding a variant is one small file here (or
anywhere, imported before training) with a class decorated by :func:`register_variant`. Nothing else
changes: not the engine, not the config.
"""

from __future__ import annotations

import importlib
import pkgutil

from vaebench.variants.base import LossInputs, NoParams, Variant

VARIANTS: dict[str, Variant] = {}
_discovered = False


def register_variant(cls: type[Variant]) -> type[Variant]:
    """Class decorator: register an instance of ``cls`` under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"variant class {cls.__name__} has no name")
    VARIANTS[cls.name] = cls()
    return cls


def _discover() -> None:
    global _discovered
    if not _discovered:
        _discovered = True
        for mod in pkgutil.iter_modules(__path__):
            if mod.name != "base":
                importlib.import_module(f"{__name__}.{mod.name}")


def list_variants() -> list[str]:
    """Names of the registered variants, sorted."""
    _discover()
    return sorted(VARIANTS)


def get_variant(name: str) -> Variant:
    """The registered variant ``name``; ValueError naming the allowed ones otherwise."""
    _discover()
    if name not in VARIANTS:
        raise ValueError(f"variant = {name!r}: must be one of {sorted(VARIANTS)}")
    return VARIANTS[name]


__all__ = ["LossInputs", "NoParams", "Variant", "get_variant", "list_variants", "register_variant"]
