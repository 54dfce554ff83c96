"""The registry, Image model, boundary modes and the CLI's error mapping."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sepconv_cli.boundary import canonical_mode
from sepconv_cli.cli.app import app
from sepconv_cli.errors import SpecError, UsageError
from sepconv_cli.image import Image, convert_length, normalize_unit
from sepconv_cli.registry import Registry


def test_registry_aliases_and_did_you_mean():
    reg: Registry[int] = Registry("kernel")
    reg.register("gaussian", 1, aliases=("gauss",))
    reg.register("sobel", 2)
    assert reg.get("GAUSS") == 1
    assert reg.names() == ["gaussian", "sobel"]
    with pytest.raises(SpecError, match="did you mean 'gaussian'"):
        reg.get("gausian")
    with pytest.raises(ValueError):
        reg.register("sobel", 3)


@pytest.mark.parametrize(
    ("alias", "mode"),
    [
        ("reflect101", "mirror"),
        ("replicate", "nearest"),
        ("symmetric", "reflect"),
        ("periodic", "wrap"),
        ("zero", "constant"),
        ("Wrap", "wrap"),
    ],
)
def test_boundary_aliases(alias, mode):
    assert canonical_mode(alias) == mode


def test_image_roles_and_validation():
    img = Image(
        np.zeros((2, 3, 4, 5)),
        "zyxb",
        spacing=(2.0, 1.0, 1.0, None),
        units=("µm", "um", "micron", "nm"),
    )
    assert img.spatial_axes == (0, 1, 2)
    assert img.axes_with_role("band") == (3,)
    assert img.units == ("um", "um", "um", "nm")
    assert img.with_axes("tyxc").axes_with_role("time") == (0,)
    with pytest.raises(UsageError, match="names 2 axes"):
        Image(np.zeros((2, 3, 4)), "yx")
    with pytest.raises(UsageError, match="unknown axis letter"):
        Image(np.zeros((2, 3)), "yq")
    with pytest.raises(UsageError, match="twice"):
        Image(np.zeros((2, 3)), "xx")


def test_units():
    assert normalize_unit("µm") == "um"
    assert convert_length(1.5, "mm", "um") == pytest.approx(1500.0)
    with pytest.raises(UsageError):
        convert_length(1.0, "mm", "s")


def test_help_and_version(runner):
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert "sepconv" in result.stdout


def test_help_does_not_import_numpy():
    code = (
        "import sys\n"
        "from sepconv_cli.cli.app import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('numpy', 'scipy', 'numba', 'nibabel', 'dask') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY="
