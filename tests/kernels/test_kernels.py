"""Kernel builders against scipy.ndimage / scipy.signal references, and every bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import ndimage, signal

from sepconv_cli.errors import KernelFileError, SepconvError, SpecError
from sepconv_cli.kernels import KERNELS, build_kernel
from sepconv_cli.kernels.gaussian import gaussian_kernel1d
from sepconv_cli.spec import parse


@pytest.fixture(scope="module")
def image2d():
    return np.random.default_rng(7).standard_normal((23, 19))


@pytest.fixture(scope="module")
def image3d():
    return np.random.default_rng(8).standard_normal((13, 15, 11))


def _outer(factors):
    out = factors[0]
    for f in factors[1:]:
        out = np.multiply.outer(out, f)
    return out


@pytest.mark.parametrize("order", [0, 1, 2])
@pytest.mark.parametrize("sigma", [0.6, 1.0, 2.5, 4.3])
def test_gaussian_1d_identical_to_scipy(sigma, order):
    from scipy.ndimage._filters import _gaussian_kernel1d

    radius = int(4.0 * sigma + 0.5)
    ours = gaussian_kernel1d(sigma, order)
    np.testing.assert_allclose(ours, _gaussian_kernel1d(sigma, order, radius), atol=1e-12, rtol=0)


@pytest.mark.parametrize("order", [0, 1, 2])
def test_gaussian_convolution_equals_gaussian_filter(image2d, order):
    kernel = build_kernel(f"gaussian:sigma=1.5x2,order={order}")
    ours = ndimage.convolve(image2d, kernel.weights, mode="reflect")
    ref = ndimage.gaussian_filter(image2d, (1.5, 2.0), order=order, mode="reflect")
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    assert kernel.smoothing is (order == 0)
    np.testing.assert_allclose(_outer(kernel.factors), kernel.weights, atol=0)


def test_gaussian_per_axis_orders_3d(image3d):
    kernel = build_kernel("gaussian:sigma=1x1.2x0.8,order=0x1x2,truncate=3")
    ours = ndimage.convolve(image3d, kernel.weights, mode="mirror")
    ref = ndimage.gaussian_filter(
        image3d, (1, 1.2, 0.8), order=(0, 1, 2), truncate=3, mode="mirror"
    )
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    assert kernel.params["radius"] == [3, 4, 2]


def test_gaussian_axis_letter_and_radius(image2d):
    kernel = build_kernel("gaussian:sigma=2,order=1,axis=x,radius=3")
    assert kernel.shape == (7, 7)
    ours = ndimage.convolve(image2d, kernel.weights)
    ref = ndimage.gaussian_filter(image2d, 2, order=(0, 1), radius=3)
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    # with the NIfTI axis order, x is the first array axis
    nifti = build_kernel("gaussian:sigma=2,order=1,axis=x", ndim=3, axes="xyz")
    assert nifti.params["order"] == [1, 0, 0]


def test_gaussian_fwhm_units_and_report():
    kernel = build_kernel(
        "gaussian:fwhm=6mm", ndim=3, spacing=(2.0, 2.0, 3000.0), units=("mm", "mm", "um")
    )
    sigma = 6 / math.sqrt(8 * math.log(2))
    np.testing.assert_allclose(kernel.params["sigma_vox"], [sigma / 2, sigma / 2, sigma / 3])
    assert kernel.params["radius"] == [int(4 * s + 0.5) for s in kernel.params["sigma_vox"]]
    assert 0 < kernel.params["tail_mass"] < 1e-3
    assert kernel.smoothing
    assert kernel.weights.sum() == pytest.approx(1.0)


def test_gaussian_sigma_zero_is_identity(image2d):
    kernel = build_kernel("gaussian:sigma=0x2")
    assert kernel.shape == (1, 17)
    np.testing.assert_allclose(kernel.factors[0], [1.0])
    ref = ndimage.gaussian_filter(image2d, (0, 2))
    np.testing.assert_allclose(ndimage.convolve(image2d, kernel.weights), ref, atol=1e-12)


@pytest.mark.parametrize("family", ["sobel", "prewitt"])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_sobel_prewitt_match_scipy_under_convolution(image3d, family, axis):
    kernel = build_kernel(f"{family}:axis={axis}", ndim=3)
    ours = ndimage.convolve(image3d, kernel.weights, mode="reflect")
    ref = getattr(ndimage, family)(image3d, axis=axis, mode="reflect")
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    assert not kernel.smoothing


def test_sobel_positive_on_rising_ramp():
    ramp = np.tile(np.arange(10.0), (10, 1))  # increases along x (axis 1)
    for family in ("sobel", "scharr", "prewitt"):
        kernel = build_kernel(f"{family}:axis=x")
        response = ndimage.convolve(ramp, kernel.weights)
        assert response[5, 5] > 0
        assert build_kernel(f"{family}:axis=y").weights.tolist() == kernel.weights.T.tolist()


def test_scharr_weights():
    kernel = build_kernel("scharr:axis=x")
    np.testing.assert_array_equal(kernel.weights, np.outer([3, 10, 3], [1, 0, -1]))
    l1 = build_kernel("scharr:axis=x,normalize=l1")
    assert np.abs(l1.weights).sum() == pytest.approx(1.0)
    np.testing.assert_allclose(_outer(l1.factors), l1.weights)


def test_gradient_magnitude_is_a_composite(image2d):
    kernel = build_kernel("sobel")
    assert kernel.combine == "magnitude"
    assert len(kernel.components) == 2
    assert any("gradient magnitude" in n for n in kernel.params["notes"])
    responses = [ndimage.convolve(image2d, c.weights) for c in kernel.components]
    ref = ndimage.generic_gradient_magnitude(image2d, ndimage.sobel)
    np.testing.assert_allclose(np.sqrt(sum(r**2 for r in responses)), ref, atol=1e-12)


def test_laplace_log_dog_match_scipy(image2d, image3d):
    lap = build_kernel("laplace", ndim=3)
    np.testing.assert_allclose(
        ndimage.convolve(image3d, lap.weights), ndimage.laplace(image3d), atol=1e-12
    )
    log = build_kernel("log:sigma=1.5x2")
    np.testing.assert_allclose(
        ndimage.convolve(image2d, log.weights),
        ndimage.gaussian_laplace(image2d, (1.5, 2.0)),
        atol=1e-12,
    )
    assert len(log.terms) == 2
    dog = build_kernel("dog:sigma1=1,sigma2=1.6")
    ref = ndimage.gaussian_filter(image2d, 1.0) - ndimage.gaussian_filter(image2d, 1.6)
    np.testing.assert_allclose(ndimage.convolve(image2d, dog.weights), ref, atol=1e-12)
    np.testing.assert_allclose(sum(_outer(t) for t in dog.terms), dog.weights, atol=1e-15)


def test_box_binomial_disk(image2d):
    box = build_kernel("box:size=5x3")
    np.testing.assert_allclose(
        ndimage.convolve(image2d, box.weights), ndimage.uniform_filter(image2d, (5, 3)), atol=1e-12
    )
    assert box.smoothing and box.factors is not None
    even = build_kernel("box:size=4")
    assert even.shape == (4, 4)
    assert any("origin is index 2" in n for n in even.params["notes"])
    # what the box's help says: an even window sits where uniform_filter's origin=-1 puts it
    np.testing.assert_allclose(
        ndimage.convolve(image2d, even.weights),
        ndimage.uniform_filter(image2d, 4, origin=-1),
        atol=1e-12,
    )
    binomial = build_kernel("binomial:n=5", ndim=1)
    np.testing.assert_allclose(binomial.weights, np.array([1, 4, 6, 4, 1]) / 16)
    disk = build_kernel("disk:radius=2")
    expected = np.array(
        [
            [0, 0, 1, 0, 0],
            [0, 1, 1, 1, 0],
            [1, 1, 1, 1, 1],
            [0, 1, 1, 1, 0],
            [0, 0, 1, 0, 0],
        ]
    )
    np.testing.assert_allclose(disk.weights, expected / 13)
    ball = build_kernel("ball:radius=1mm", ndim=3, spacing=(0.5, 0.5, 1), units=("mm",) * 3)
    assert ball.shape == (5, 5, 3)


def test_savgol_matches_scipy():
    x = np.random.default_rng(3).standard_normal(40)
    for deriv in (0, 1):
        kernel = build_kernel(f"savgol:window=9,order=3,deriv={deriv}")
        assert kernel.ndim == 1
        ours = ndimage.convolve(x, kernel.weights, mode="wrap")
        ref = signal.savgol_filter(x, 9, 3, deriv=deriv, mode="wrap")
        np.testing.assert_allclose(ours, ref, atol=1e-12)
    with pytest.raises(SpecError, match="savgol is a 1-D kernel"):
        build_kernel("savgol", ndim=2)


def test_spectral_gaussian_in_nm():
    kernel = build_kernel("gaussian:sigma=10nm", ndim=1, spacing=[5.0], units=["nm"])
    assert kernel.params["sigma_vox"] == [2.0]


def test_custom_inline_and_normalize():
    kernel = build_kernel("[[1,2,1],[2,4,2],[1,2,1]]")
    np.testing.assert_allclose(kernel.weights, np.outer([1, 2, 1], [1, 2, 1]) / 16)
    assert kernel.smoothing
    raw = build_kernel("[[1,2,1],[2,4,2],[1,2,1]]:normalize=none")
    assert raw.weights.sum() == 16
    signed = build_kernel("[[1,0,-1],[2,0,-2],[1,0,-1]]")
    assert signed.weights.sum() == 0 and not signed.smoothing
    with pytest.raises(SpecError, match="sum to zero"):
        build_kernel("[[1,0,-1],[2,0,-2],[1,0,-1]]:normalize=sum")
    with pytest.raises(SpecError, match="sum to zero"):
        build_kernel("sobel:axis=x,normalize=sum")


def test_custom_files(tmp_path):
    weights = np.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0])
    (tmp_path / "k.csv").write_text("1,0,-1\n2,0,-2\n1,0,-1\n")
    (tmp_path / "k.txt").write_text("# sobel\n1 0 -1\n2\t0 -2\n\n1 0 -1\n".replace("\n\n", "\n"))
    np.save(tmp_path / "k.npy", weights)
    for name in ("k.csv", "k.txt", "k.npy"):
        kernel = build_kernel(f"@{tmp_path / name}")
        np.testing.assert_array_equal(kernel.weights, weights)
    cube = np.arange(8.0).reshape(2, 2, 2) + 1
    (tmp_path / "cube.txt").write_text("1 2\n3 4\n\n5 6\n7 8\n")
    np.testing.assert_allclose(
        build_kernel(f"@{tmp_path / 'cube.txt'}:normalize=none").weights, cube
    )
    np.save(tmp_path / "k3.npy", cube)
    assert build_kernel(f"@{tmp_path / 'k3.npy'}", ndim=3).shape == (2, 2, 2)
    with pytest.raises(SpecError, match="the kernel has 3 axes but the image has 2 axes to filter"):
        build_kernel(f"@{tmp_path / 'k3.npy'}", ndim=2)


def test_custom_nifti_kernel(tmp_path):
    import nibabel

    weights = np.outer([1.0, 4.0, 6.0, 4.0, 1.0], [1.0, 2.0, 1.0])[:, :, None]
    nibabel.save(nibabel.Nifti1Image(weights, np.eye(4)), tmp_path / "k.nii.gz")
    kernel = build_kernel(f"@{tmp_path / 'k.nii.gz'}:normalize=none", ndim=2)
    np.testing.assert_allclose(kernel.weights, weights[:, :, 0])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1,2,3\n4,5\n", "ragged rows: line 2 has 2 values but line 1 has 3"),
        ("1,a,3\n", "non-numeric cell 'a' on line 1"),
        ("1,,3\n", "empty cell on line 1"),
        ("1,nan,3\n", "NaN/Inf"),
        ("1,inf,3\n", "NaN/Inf"),
        ("", "no numbers found"),
        ("# only a comment\n\n", "no numbers found"),
        ("0,0\n0,0\n", "every weight is zero"),
        ("1 2\n3 4\n\n1 2 3\n4 5 6\n", "different shapes"),
    ],
)
def test_bad_kernel_text_files(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(SpecError, match=message):
        build_kernel(f"@{path}")


def test_bad_npy_arrays(tmp_path):
    cases = {
        "scalar.npy": (np.array(3.0), "single number"),
        "empty.npy": (np.zeros((0, 3)), "empty"),
        "complex.npy": (np.ones((3, 3), complex), "complex"),
        "nan.npy": (np.array([[1.0, np.nan]]), r"index \(0, 1\) is nan"),
    }
    for name, (array, message) in cases.items():
        np.save(tmp_path / name, array)
        with pytest.raises(SpecError, match=message):
            build_kernel(f"@{tmp_path / name}")


def test_unreadable_kernel_files(tmp_path):
    with pytest.raises(KernelFileError, match="no such file"):
        build_kernel(f"@{tmp_path / 'missing.csv'}")
    (tmp_path / "garbage.npy").write_bytes(b"not an npy file")
    with pytest.raises(KernelFileError, match="not a readable .npy"):
        build_kernel(f"@{tmp_path / 'garbage.npy'}")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(KernelFileError, match="not a text file"):
        build_kernel(f"@{tmp_path / 'binary.csv'}")
    with pytest.raises(KernelFileError, match="is a directory"):
        build_kernel(f"@{tmp_path}")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gausian:sigma=2", "did you mean 'gaussian'"),
        ("gaussian:sigam=2", "gaussian: unknown key 'sigam'; did you mean 'sigma'"),
        ("gaussian", "needs sigma or fwhm"),
        ("gaussian:sigma=-1", "sigma must be >= 0"),
        ("gaussian:sigma=nan", "must be finite"),
        ("gaussian:sigma=1,fwhm=2", "not both"),
        ("gaussian:sigma=1,order=3", "order must be 0, 1 or 2"),
        ("gaussian:sigma=0,order=1", "needs sigma > 0"),
        ("gaussian:sigma=2mm", "spacing, which is unknown"),
        ("gaussian:sigma=1,truncate=0", "truncate must be > 0"),
        ("gaussian:sigma=1,normalize=max", "not one of sum, l1, none"),
        ("gaussian:sigma=400", "exceeds the limit 1025"),
        ("sobel:axis=w", "not one of the kernel's 2 axes"),
        ("sobel:axis=5", "out of range"),
        ("box:size=0", "must be >= 1"),
        ("box:size=2.5", "whole number"),
        ("disk:radius=0", "must be > 0"),
        ("dog:sigma1=1", "needs sigma1 and sigma2"),
        ("dog:sigma1=1,sigma2=1", "kernel is zero"),
        ("log:sigma=0x1", "sigma must be > 0"),
        ("savgol:window=4", "odd"),
        ("savgol:window=5,order=5", "order must be"),
        ("savgol:window=5,order=2,deriv=3", "deriv must be"),
        ("[[1,2],[3]]", "ragged rows"),
        ("[[1,'a']]", "cannot parse"),
        ('[[1,"a"]]', "non-numeric entry"),
        ("[[1,2]", "cannot parse"),
        ("[]", "empty"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(SpecError, match=message):
        build_kernel(spec)


def test_max_size_option():
    with pytest.raises(SpecError, match="exceeds the limit 7"):
        build_kernel("gaussian:sigma=2", max_size=7)
    with pytest.raises(SpecError, match="exceeds the limit 2"):
        build_kernel("[[1,2,1]]", max_size=2)
    with pytest.raises(SpecError, match="weights, more than"):
        build_kernel("gaussian:sigma=100", ndim=3)


def test_ndim_inference_and_registry():
    assert build_kernel("gaussian:sigma=1x1x2").ndim == 3
    assert build_kernel("gaussian:sigma=1").ndim == 2
    with pytest.raises(SpecError, match="sigma has 3 values but the kernel has 2 axes"):
        build_kernel("gaussian:sigma=1x2x3", ndim=2)
    with pytest.raises(SpecError, match="spacing has 3 entries for 2 axes"):
        build_kernel("gaussian:sigma=1", ndim=2, spacing=(1, 1, 1))
    assert build_kernel("savgol").ndim == 1
    assert build_kernel(parse("box:size=3")).spec == "box:size=3"
    names = KERNELS.names()
    for name in ("gaussian", "log", "dog", "sobel", "scharr", "prewitt", "laplace", "box"):
        assert name in names
    for name in ("binomial", "disk", "savgol", "custom"):
        assert name in names
    assert build_kernel("ball:radius=1", ndim=3).name == "disk"


@pytest.mark.parametrize("radius", [1, 2, 3, 5, 8])
def test_disk_and_ball_match_scikit_image(radius):
    from skimage.morphology import ball, disk

    flat = build_kernel(f"disk:radius={radius}")
    np.testing.assert_array_equal(flat.weights > 0, disk(radius) > 0)
    solid = build_kernel(f"ball:radius={radius}", ndim=3)
    np.testing.assert_array_equal(solid.weights > 0, ball(radius) > 0)
    assert solid.weights.sum() == pytest.approx(1.0)


def test_infer_ndim():
    from sepconv_cli.kernels import infer_ndim

    assert infer_ndim("gaussian:sigma=1x1x2mm") == 3
    assert infer_ndim("dog:sigma1=1,sigma2=2x2x2x2") == 4
    assert infer_ndim("savgol:window=5") == 1
    assert infer_ndim("[[1,2]]") is None


def test_one_row_text_file_is_a_1d_kernel_for_one_axis(tmp_path):
    (tmp_path / "row.csv").write_text("1,2,1\n")
    (tmp_path / "column.txt").write_text("1\n2\n1\n")
    for name in ("row.csv", "column.txt"):
        kernel = build_kernel(f"@{tmp_path / name}", ndim=1)
        np.testing.assert_allclose(kernel.weights, [0.25, 0.5, 0.25])
    assert build_kernel(f"@{tmp_path / 'row.csv'}").shape == (1, 3)
    with pytest.raises(SpecError, match="the kernel has 1 axis but the image has 2 axes to filter"):
        build_kernel("[1,2,1]", ndim=2)


_FUZZ_KEYS = ["sigma", "fwhm", "order", "axis", "truncate", "radius", "normalize", "size", "n"]
_FUZZ_KEYS += ["window", "deriv", "sigma1", "sigma2", "file", "weights", "sigam"]
_FUZZ_VALUES = ["2", "0", "-1", "1x2", "2mm", "0x0x1", "x", "nan", "1e400", "3vox", "sum"]
_FUZZ_VALUES += ["l1", "none", "auto", "y", "1.5", "2x2x2x2x2", "1e-30", "[1]", "µm", "@"]


@st.composite
def _specs(draw):
    name = draw(st.sampled_from([*KERNELS.names(), "gauss", "ball", "[[1,2],[3,4]]", "[1,2]"]))
    values = st.one_of(st.sampled_from(_FUZZ_VALUES), st.text(max_size=5))
    parts = [
        f"{draw(st.sampled_from(_FUZZ_KEYS))}={draw(values)}"
        for _ in range(draw(st.integers(0, 3)))
    ]
    return name + (":" + ",".join(parts) if parts else "")


@given(_specs() | st.text(max_size=16), st.sampled_from([None, 1, 2, 3]), st.booleans())
def test_any_spec_builds_a_finite_kernel_or_says_why(spec, ndim, with_spacing):
    options = {"max_size": 65}
    if with_spacing and ndim:
        options.update(spacing=[0.5] * ndim, units=["mm"] * ndim)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            kernel = build_kernel(spec, ndim=ndim, **options)
        except SepconvError as exc:
            assert str(exc)
            return
    assert np.all(np.isfinite(kernel.weights)) and kernel.weights.any()
    if kernel.factors is not None:
        np.testing.assert_allclose(_outer(kernel.factors), kernel.weights, rtol=0, atol=1e-15)
    if ndim is not None:
        assert kernel.ndim == ndim
