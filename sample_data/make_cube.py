"""Generate ``cube.hdr`` + ``cube.img``: a synthetic 64 x 64 x 100 hyperspectral ENVI cube.

No real cube can be downloaded here, so this script builds a realistic one: four endmember
reflectance spectra over 400-2500 nm (green vegetation with chlorophyll and leaf-water
absorptions, a clay-rich soil, clear water and a kaolinite-like mineral with its 2165/2205 nm
doublet) are mixed with smooth, spatially correlated abundance maps (smoothed random fields
through a softmax, so abundances are >= 0 and sum to 1), shaded by a smooth illumination field,
and given sensor noise. Reflectance is stored as int16 x 10000 (BSQ, little-endian), with
wavelengths, FWHM and band names in the header. It is written with the ``spectral`` package's
ENVI writer (independent of sepconv's own). Deterministic: seed 20240611.

Run: ``python sample_data/make_cube.py`` (rewrites sample_data/cube.hdr and cube.img).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

HERE = Path(__file__).resolve().parent
SHAPE = (64, 64)
BANDS = 100
SEED = 20240611
SCALE = 10000


def absorption(wl: np.ndarray, centre: float, width: float, depth: float) -> np.ndarray:
    """Multiplicative Gaussian absorption feature (1 - depth at ``centre``)."""
    return 1.0 - depth * np.exp(-0.5 * ((wl - centre) / width) ** 2)


def endmembers(wl: np.ndarray) -> dict[str, np.ndarray]:
    """Reflectance spectra (0..1) of four surface materials at wavelengths ``wl`` (nm)."""
    red_edge = 1.0 / (1.0 + np.exp(-(wl - 715.0) / 12.0))
    vegetation = 0.04 + 0.07 * np.exp(-0.5 * ((wl - 550.0) / 35.0) ** 2) + 0.44 * red_edge
    vegetation *= absorption(wl, 680.0, 25.0, 0.5) * absorption(wl, 970.0, 40.0, 0.08)
    vegetation *= absorption(wl, 1200.0, 60.0, 0.15) * absorption(wl, 1450.0, 90.0, 0.6)
    vegetation *= absorption(wl, 1940.0, 110.0, 0.75) * (
        1.0 - 0.35 * np.clip((wl - 1300) / 1200, 0, 1)
    )
    soil = 0.08 + 0.27 * np.clip((wl - 400.0) / 1700.0, 0.0, 1.0) ** 0.7
    soil *= absorption(wl, 1410.0, 50.0, 0.12) * absorption(wl, 1910.0, 60.0, 0.18)
    soil *= absorption(wl, 2205.0, 35.0, 0.15) * absorption(wl, 900.0, 120.0, 0.08)
    water = 0.02 + 0.05 * np.exp(-(wl - 400.0) / 180.0)
    water *= np.where(wl > 900.0, 0.3, 1.0) * absorption(wl, 760.0, 60.0, 0.3)
    mineral = 0.55 + 0.1 * np.clip((wl - 400.0) / 800.0, 0.0, 1.0)
    mineral *= absorption(wl, 1400.0, 30.0, 0.25) * absorption(wl, 2165.0, 18.0, 0.22)
    mineral *= absorption(wl, 2205.0, 20.0, 0.3) * absorption(wl, 480.0, 60.0, 0.15)
    return {"vegetation": vegetation, "soil": soil, "water": water, "kaolinite": mineral}


def abundances(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` smooth abundance maps (64 x 64 each), >= 0 and summing to 1 per pixel."""
    fields = np.stack(
        [
            ndimage.gaussian_filter(rng.standard_normal(SHAPE), sigma=7.0, mode="wrap")
            for _ in range(count)
        ]
    )
    fields /= fields.std(axis=(1, 2), keepdims=True)
    logits = fields / 0.45
    logits -= logits.max(axis=0, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=0, keepdims=True)


def make_cube() -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The cube (lines, samples, bands) as int16 reflectance x 10000, wavelengths, FWHM, names."""
    rng = np.random.default_rng(SEED)
    wl = np.linspace(400.0, 2500.0, BANDS)
    fwhm = np.full(BANDS, 1.1 * (wl[1] - wl[0]))
    spectra = endmembers(wl)
    names = list(spectra)
    mix = abundances(rng, len(names))
    matrix = np.stack([spectra[name] for name in names])  # (materials, bands)
    reflectance = np.einsum("myx,mb->yxb", mix, matrix)
    shading = 0.9 + 0.1 * ndimage.gaussian_filter(rng.standard_normal(SHAPE), 12.0, mode="wrap")
    reflectance *= np.clip(shading, 0.75, 1.05)[:, :, None]
    noise = rng.normal(0.0, 0.003, reflectance.shape) + reflectance * rng.normal(
        0.0, 0.005, reflectance.shape
    )
    cube = np.clip(np.rint((reflectance + noise) * SCALE), 0, 32767).astype(np.int16)
    return cube, wl, fwhm, [f"Band {i + 1} ({w:.1f} nm)" for i, w in enumerate(wl)]


def main() -> None:
    """Write ``cube.hdr`` / ``cube.img`` next to this script."""
    import spectral.io.envi as envi

    cube, wl, fwhm, band_names = make_cube()
    metadata = {
        "description": "Synthetic cube from sample_data/make_cube.py: 4 endmembers (vegetation, "
        "soil, water, kaolinite), smooth abundances, noise; reflectance x 10000",
        "wavelength units": "Nanometers",
        "wavelength": [f"{w:.2f}" for w in wl],
        "fwhm": [f"{f:.2f}" for f in fwhm],
        "band names": band_names,
        "reflectance scale factor": str(SCALE),
        "sensor type": "synthetic",
    }
    envi.save_image(
        str(HERE / "cube.hdr"),
        cube,
        dtype=np.int16,
        interleave="bsq",
        byteorder=0,
        metadata=metadata,
        force=True,
        ext=".img",
    )


if __name__ == "__main__":
    main()
