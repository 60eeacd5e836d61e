"""The layers contract (.importlinter) places every module of hwtune: a module it does not name is
a module whose imports nothing checks."""

from __future__ import annotations

import configparser
import pkgutil
from pathlib import Path

import hwtune

REPO = Path(__file__).resolve().parent.parent
DATA_PACKAGES = {"checktext", "profiles"}  # data shipped in the wheel, no code


def test_every_module_of_hwtune_is_in_a_layer():
    contract = configparser.ConfigParser()
    contract.read(REPO / ".importlinter")
    layers = contract["importlinter:contract:layers"]["layers"].split("\n")
    placed = {name.strip() for line in layers for name in line.replace(":", "|").split("|") if name.strip()}
    modules = {m.name for m in pkgutil.iter_modules(hwtune.__path__)} - DATA_PACKAGES
    assert modules - placed == set(), "add these to a layer in .importlinter and docs/contributing.md"
    assert placed - modules == set(), "the contract names modules that do not exist"
