"""Registers joule's `${joule.runs:}` resolver when DVC composes conf/ itself (`dvc exp run`).

DVC imports the Hydra plugins under its `hydra.plugins_path` (default: the repository root) before
composing params.yaml, and Hydra imports every module of the `hydra_plugins` namespace package
(hence no `__init__.py` here), so this module is how a resolver reaches DVC's composition.
"""

from joule.runs import register

register()
