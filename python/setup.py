"""Builds lapgan._lapgan, a cffi extension (API mode) compiled against
include/lapgan.h and linked to the liblapgan.so the repository's build made.

The shared library is copied into the package and found through an
$ORIGIN rpath, so the installed package does not depend on the build
directory staying put. LAPGAN_BUILD_DIR picks the build (default: build/
beside this folder, what the README's set-up makes)."""
import os
import re
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
# The repository (include/, build/): this folder's parent, or LAPGAN_ROOT
# for a copy of python/ built elsewhere (tests/cli/python.sh does).
ROOT = os.environ.get("LAPGAN_ROOT", os.path.dirname(HERE))


def version():
    with open(os.path.join(ROOT, "include", "lapgan", "core.h")) as f:
        return re.search(r'#define LG_VERSION "([^"]+)"', f.read()).group(1)


def build_dir():
    d = os.environ.get("LAPGAN_BUILD_DIR", os.path.join(ROOT, "build"))
    return d if os.path.isabs(d) else os.path.join(ROOT, d)


class BuildPy(build_py):
    """Copies liblapgan.so.<major> beside the extension."""

    def run(self):
        super().run()
        major = version().split(".")[0]
        src = os.path.join(build_dir(), f"liblapgan.so.{major}")
        if not os.path.exists(src):
            raise SystemExit(f"lapgan: {src} not found: build the library first "
                             f"(scripts/deps.sh build && make lib), or set LAPGAN_BUILD_DIR")
        dst = os.path.join(self.build_lib, "lapgan", os.path.basename(src))
        shutil.copy2(os.path.realpath(src), dst)


setup(version=version(), cffi_modules=["lapgan_build.py:ffibuilder"],
      cmdclass={"build_py": BuildPy})
