"""nbconvert templates shipped with enclave (a data folder; one sub-folder per template).

Find them the same way everywhere: ``templates.templates_root()`` is the folder to give
nbconvert as an ``extra_template_basedirs`` entry; a template is then named by its folder.
"""

from pathlib import Path


def templates_root() -> Path:
    return Path(__file__).resolve().parent


def template_dir(name: str) -> Path:
    return templates_root() / name
