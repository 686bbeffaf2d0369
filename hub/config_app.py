"""``enclave config``: every enclave setting with its help, and a commented config to start from.

A traitlets ``Application`` (as ``jupyterhub --help-all`` / ``--generate-config`` are for
JupyterHub's own settings)::

    enclave config --help-all                 # every enclave setting, its help and default
    enclave config --generate-config          # a commented config on stdout
    enclave config --generate-config --output=enclave_settings.py

The settings are found, not listed by hand: every ``Configurable`` defined in an installed
enclave module (``PACKAGES``) with settings of its own. Each class shows only the settings it
defines; what it inherits from JupyterHub (``Spawner.*``, ``OAuthenticator.*``) is in
``jupyterhub --help-all``.
"""

import importlib
import pkgutil
import sys
from pathlib import Path

from traitlets import Bool, Unicode
from traitlets.config import Application, Configurable
from traitlets.utils.text import wrap_paragraphs

# every installed enclave package but the migrations' scripts (alembic runs them); a test keeps
# this equal to pyproject.toml's packages
PACKAGES = (
    "enclave",
    "enclave.audit",
    "enclave.warehouse",
    "enclave.output_review",
    "enclave.output_review.checks",
    "enclave.kernels",
    "enclave.kernels.server",
    "enclave.reports",
    "enclave.review_service",
    "enclave.hub",
    "enclave.hub.isolation",
    "enclave.templates",
    "enclave.notebooks",
)
OPTIONAL = {"enclave.hub.kube": "jupyterhub-kubespawner"}  # only with the Kubernetes profile


def enclave_modules():
    for package in PACKAGES:
        yield package
        for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
            if not info.ispkg and info.name != "__main__":
                yield f"{package}.{info.name}"


def setting_classes() -> list[type]:
    """Every enclave Configurable with settings of its own, by module then class name."""
    found = []
    for name in enclave_modules():
        try:
            module = importlib.import_module(name)
        except ImportError:
            if name in OPTIONAL:  # its settings need a package this installation lacks
                continue
            raise
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Configurable)
                and not issubclass(value, Application)
                and value.__module__ == name
                and value.class_own_traits(config=True)
            ):
                found.append(value)
    return found


def own_help(cls) -> str:
    """``--help-all`` for one class: the settings it defines, each with its help."""
    lines = [f"{cls.__name__}({cls.__mro__[1].__name__}) options", "-" * 40]
    for _, trait in sorted(cls.class_own_traits(config=True).items()):
        lines.append(cls.class_get_trait_help(trait))
    return "\n".join(lines)


def commented(cls) -> str:
    """The class's section of a generated config: its description, then each setting it
    defines, commented out at its default."""
    lines = ["#" + "-" * 78, f"# {cls.__name__} ({cls.__module__})", "#" + "-" * 78]
    doc = (cls.__doc__ or "").strip()
    if doc:
        lines += [
            "#  " + line if line else "#" for line in wrap_paragraphs(doc, 76)[0].splitlines()
        ]
    for name, trait in sorted(cls.class_own_traits(config=True).items()):
        lines.append("")
        for paragraph in wrap_paragraphs(trait.help or "(no help)", 76):
            lines += [f"#  {line}" for line in paragraph.splitlines()]
        lines.append(f"#  Default: {trait.default_value_repr()}")
        lines.append(f"# c.{cls.__name__}.{name} = {trait.default_value_repr()}")
    return "\n".join(lines)


class EnclaveConfig(Application):
    name = "enclave config"
    description = """Every setting of the enclave, with its help. Set them in the deployment's
    jupyterhub_config.py (c.Class.setting = value); the hub, its services, the research
    sessions and the `enclave` commands (--config) read that one file. JupyterHub's own
    settings: `jupyterhub --help-all`."""
    examples = """
    enclave config --help-all
    enclave config --generate-config --output=enclave_settings.py
    """

    generate_config = Bool(
        False, help="Write a commented config of every enclave setting at its default."
    ).tag(config=True)

    output = Unicode(
        "", help="Where --generate-config writes (default: standard output); never replaced."
    ).tag(config=True)

    flags = {
        "generate-config": (
            {"EnclaveConfig": {"generate_config": True}},
            "write a commented config of every enclave setting",
        )
    }
    aliases = {"output": "EnclaveConfig.output"}

    def _classes_with_config_traits(self, classes=None):
        return setting_classes()

    def emit_help(self, classes: bool = False):
        yield from self.emit_description()
        yield from self.emit_options_help()
        if classes:
            yield "Enclave settings"
            yield "================"
            for cls in setting_classes():
                yield own_help(cls)
                yield ""
        yield from self.emit_examples()
        yield from self.emit_help_epilogue(classes)

    def generated(self) -> str:
        head = (
            "# Every enclave setting, at its default (`enclave config --generate-config`).\n"
            "# Copy what you change into jupyterhub_config.py.\n"
            "c = get_config()  # noqa\n"
        )
        return head + "\n\n".join(commented(cls) for cls in setting_classes()) + "\n"

    def start(self) -> None:
        if not self.generate_config:
            self.print_help(classes=False)
            return
        text = self.generated()
        if not self.output:
            sys.stdout.write(text)
            return
        path = Path(self.output)
        try:
            with open(path, "x", encoding="utf-8") as f:  # never over a deployment's config
                f.write(text)
        except FileExistsError:
            self.exit(f"enclave config: {path} exists; give --output a new file.")
        print(f"wrote every enclave setting to {path}")


def run(args) -> int:
    """``enclave config ARGS``: the Application parses every argument itself."""
    app = EnclaveConfig()
    app.initialize(args.rest)
    app.start()
    return 0
