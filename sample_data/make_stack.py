"""Generate ``stack_uint16.tif``: a 16-bit ImageJ TIFF stack with physical spacing in µm.

Source: nibabel's bundled ``tests/data/anatomical.nii`` (a real, big-endian int16 T1-weighted
brain volume, 33 x 41 x 25 voxels of 2 mm; nibabel is MIT-licensed). The voxels are put in
z, y, x order, negative values are clipped to 0 and the rest multiplied by 2 to use more of the
16-bit range, and the stack is written with tifffile as an ImageJ hyperstack whose calibration
is the scan's true voxel size expressed in µm (2000 µm = 2 mm), so readers that understand
ImageJ metadata (Fiji, tifffile, sepconv) see axes ``zyx`` and spacing 2000 µm per axis.

Run: ``python sample_data/make_stack.py`` (rewrites sample_data/stack_uint16.tif).
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import tifffile

HERE = Path(__file__).resolve().parent


def main() -> None:
    """Write ``stack_uint16.tif`` next to this script."""
    source = Path(nib.__file__).parent / "tests" / "data" / "anatomical.nii"
    img = nib.load(source)
    volume = np.asarray(img.dataobj).astype(np.int32).transpose(2, 1, 0)  # x y z -> z y x
    stack = (np.clip(volume, 0, None) * 2).clip(0, 65535).astype(np.uint16)
    dx, dy, dz = (float(z) * 1000.0 for z in img.header.get_zooms()[:3])  # mm -> µm
    tifffile.imwrite(
        HERE / "stack_uint16.tif",
        stack,
        imagej=True,
        resolution=(1.0 / dx, 1.0 / dy),
        metadata={"axes": "ZYX", "spacing": dz, "unit": "micron"},
    )


if __name__ == "__main__":
    main()
