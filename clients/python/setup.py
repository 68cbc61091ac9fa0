"""Build hook: generate the protobuf/gRPC modules from the repository's
``proto/`` into the package while it is built (regular and editable installs),
and carry ``proto/`` inside an sdist so a wheel can be built from it.
Everything else is in pyproject.toml."""

import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py as _build_py
from setuptools.command.sdist import sdist as _sdist

HERE = Path(__file__).resolve().parent


def _codegen():
    spec = importlib.util.spec_from_file_location("_angzarr_codegen", HERE / "src" / "angzarr_client" / "codegen.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class build_py(_build_py):
    def run(self):
        super().run()
        codegen = _codegen()
        proto_dir = codegen.find_proto_dir(HERE)
        if getattr(self, "editable_mode", False):
            out = HERE / "src" / "angzarr_client" / "proto"
        else:
            out = Path(self.build_lib) / "angzarr_client" / "proto"
        written = codegen.generate(proto_dir, out)
        print(f"angzarr_client: generated {len(written)} modules from {proto_dir}")


class sdist(_sdist):
    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        proto_dir = _codegen().find_proto_dir(HERE)
        shutil.copytree(proto_dir, Path(base_dir) / "proto", ignore=shutil.ignore_patterns("*.rs", "*.toml", "*.py", "src"))


setup(cmdclass={"build_py": build_py, "sdist": sdist})
