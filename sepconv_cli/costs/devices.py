"""Device profiles and the roofline model: time and energy of a network on a device.

These are **model estimates, not measurements**. A profile (TOML) gives a device's peak MAC
rate per dtype, its DRAM bandwidth, optionally its on-chip cache, and energy per MAC and per
DRAM byte. For each layer (Williams, Waterman & Patterson 2009, "Roofline"):

- compute time = MACs / peak MAC/s (with ``elementwise``: element-wise ops too, one per MAC
  slot), memory time = DRAM bytes / bandwidth; the layer takes the larger and is
  *compute-bound* or *memory-bound* accordingly; layers run one after another;
- DRAM bytes are the layer's traffic (:mod:`sepconv_cli.costs.traffic`), except that with a
  cache an activation no larger than half the cache, read only by the next layer, stays on
  chip: its producer does not write it and its consumer does not read it from DRAM;
- energy = MACs x pJ/MAC + DRAM bytes x pJ/byte.

The bundled profiles (``sepconv ops devices``) cite their sources in their files.

Examples
--------
>>> device = load_device("phone_cpu")
>>> device.peak("float32"), device.bandwidth
(76800000000.0, 51200000000.0)
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sepconv_cli.costs.models import ModelCost
from sepconv_cli.costs.traffic import DTYPE_BYTES, LayerTraffic, layer_traffic
from sepconv_cli.errors import FormatError, SpecError, UsageError
from sepconv_cli.registry import did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

#: Where the bundled device profiles live.
DEVICE_DIR = Path(__file__).resolve().parent / "devices"
_KEYS = ("name", "kind", "source", "bandwidth_gbs", "cache_mib", "peak_gmacs", "pj_per_mac")
_ALL_KEYS = (*_KEYS, "pj_per_byte")


@dataclass(frozen=True)
class Device:
    """A device profile: rates in MAC/s and bytes/s, energies in joules.

    Examples
    --------
    >>> d = Device("toy", {"float32": 1e9}, 1e9)
    >>> d.ridge("float32")
    1.0
    """

    name: str
    peak_macs: dict[str, float]
    bandwidth: float
    cache_bytes: int = 0
    j_per_mac: dict[str, float] | None = None
    j_per_byte: float = 0.0
    kind: str = ""
    source: str = ""

    def peak(self, dtype: str) -> float:
        """Peak MAC/s for ``dtype``."""
        if dtype not in self.peak_macs:
            raise UsageError(
                f"device {self.name!r} has no peak rate for {dtype} "
                f"(it lists {', '.join(self.peak_macs)})"
            )
        return self.peak_macs[dtype]

    def ridge(self, dtype: str) -> float:
        """The intensity (MACs/byte) where the roofs meet: below it a layer is memory-bound."""
        return self.peak(dtype) / self.bandwidth

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "peak_macs_per_s": dict(self.peak_macs),
            "bandwidth_bytes_per_s": self.bandwidth,
            "cache_bytes": self.cache_bytes,
            "pj_per_mac": {k: v * 1e12 for k, v in (self.j_per_mac or {}).items()},
            "pj_per_dram_byte": self.j_per_byte * 1e12,
        }


def bundled_devices() -> list[str]:
    """Names of the bundled profiles (``phone_cpu``, ...).

    Examples
    --------
    >>> "datacenter_gpu" in bundled_devices()
    True
    """
    return sorted(path.stem for path in DEVICE_DIR.glob("*.toml"))


def _number(table: dict, key: str, where: str) -> float:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise SpecError(f"{where}: {key} must be a positive number, got {value!r}")
    return float(value)


def _rates(document: dict, key: str, where: str, scale: float) -> dict[str, float]:
    table = document.get(key)
    if not isinstance(table, dict) or not table:
        raise SpecError(f"{where}: missing table [{key}] (one entry per dtype, e.g. float32)")
    for dtype in table:
        if dtype not in DTYPE_BYTES:
            raise SpecError(
                f"{where}: [{key}] {dtype!r} is not a dtype{did_you_mean(dtype, list(DTYPE_BYTES))}"
                f" (choices: {', '.join(DTYPE_BYTES)})"
            )
    return {dtype: _number(table, dtype, f"{where}: [{key}]") * scale for dtype in table}


def parse_device(document: dict[str, Any], where: str = "<device>") -> Device:
    """Validate a device profile document.

    Keys: ``name``, ``kind``, ``source`` (text), ``bandwidth_gbs`` (GB/s), ``cache_mib``
    (optional), ``[peak_gmacs]`` (GMAC/s per dtype), ``[pj_per_mac]`` (per dtype, optional),
    ``[pj_per_byte]`` with ``dram`` (optional).

    Examples
    --------
    >>> parse_device({"bandwidth_gbs": 10, "peak_gmacs": {"int8": 100}}).ridge("int8")
    10.0
    """
    for key in document:
        if key not in _ALL_KEYS:
            raise SpecError(
                f"{where}: unknown key {key!r}{did_you_mean(key, list(_ALL_KEYS))} "
                f"(keys: {', '.join(_ALL_KEYS)})"
            )
    energy = document.get("pj_per_byte", {})
    cache = document.get("cache_mib", 0)
    if isinstance(cache, bool) or not isinstance(cache, (int, float)) or cache < 0:
        raise SpecError(f"{where}: cache_mib must be a number >= 0, got {cache!r}")
    return Device(
        str(document.get("name", where)),
        _rates(document, "peak_gmacs", where, 1e9),
        _number(document, "bandwidth_gbs", where) * 1e9,
        int(cache * 2**20),
        _rates(document, "pj_per_mac", where, 1e-12) if "pj_per_mac" in document else None,
        _number(energy, "dram", f"{where}: [pj_per_byte]") * 1e-12 if energy else 0.0,
        str(document.get("kind", "")),
        str(document.get("source", "")),
    )


def load_device(name: str | Path) -> Device:
    """A bundled profile by name, or a user's TOML file by path.

    Examples
    --------
    >>> load_device("desktop_gpu").cache_bytes
    75497472
    """
    text = str(name)
    path = Path(text)
    if text in bundled_devices():
        path = DEVICE_DIR / f"{text}.toml"
    elif not (text.endswith(".toml") or path.exists()):
        raise UsageError(
            f"unknown device {text!r}{did_you_mean(text, bundled_devices())} (bundled: "
            f"{', '.join(bundled_devices())}; or give a .toml file)"
        )
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot read device profile {text}: {exc}") from None
    try:
        document = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{text}: not valid TOML: {exc}") from None
    return parse_device(document, text)


@dataclass(frozen=True)
class LayerTime:
    """One layer on a device: its DRAM bytes, roofline time, bound and energy."""

    traffic: LayerTraffic
    dram_bytes: int
    compute_s: float
    memory_s: float
    energy_j: float | None

    @property
    def time_s(self) -> float:
        """Roofline time: the larger of compute and memory time."""
        return max(self.compute_s, self.memory_s)

    @property
    def bound(self) -> str:
        """``"compute"`` or ``"memory"`` (``"-"`` for a layer that neither computes nor moves)."""
        if not self.time_s:
            return "-"
        return "compute" if self.compute_s >= self.memory_s else "memory"

    @property
    def intensity(self) -> float:
        """MACs per DRAM byte."""
        return self.traffic.macs / self.dram_bytes if self.dram_bytes else 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "dram_bytes": self.dram_bytes,
            "dram_intensity": self.intensity,
            "compute_s": self.compute_s,
            "memory_s": self.memory_s,
            "time_s": self.time_s,
            "bound": self.bound,
            "energy_j": self.energy_j,
        }


def _on_chip(model: ModelCost, traffic: list[LayerTraffic], device: Device) -> set[str]:
    """Tensors that stay in the cache: read only by the very next layer, at most half of it."""
    if not device.cache_bytes:
        return set()
    readers: dict[str, list[int]] = {}
    for i, layer in enumerate(model.layers):
        for name in layer.inputs:
            readers.setdefault(name, []).append(i)
    kept = set()
    for i, (layer, bytes_) in enumerate(zip(model.layers, traffic, strict=True)):
        if readers.get(layer.name) == [i + 1] and 2 * bytes_.output_bytes <= device.cache_bytes:
            kept.add(layer.name)
    return kept


def roofline(
    model: ModelCost,
    device: Device,
    dtype: str = "float32",
    batch: int = 1,
    *,
    elementwise: bool = False,
) -> list[LayerTime]:
    """Roofline time and energy of every layer of ``model`` on ``device`` (model estimates).

    Examples
    --------
    >>> from sepconv_cli.costs.models import parse_model_spec, model_costs
    >>> net = model_costs(parse_model_spec('input = [8, 8, 4]\\n[[layer]]\\ntype = "pw"\\nout = 8'))
    >>> t = roofline(net, Device("toy", {"float32": 1e9}, 1e9))[0]
    >>> t.bound, t.time_s == (128 + 1024 + 2048) / 1e9
    ('memory', True)
    """
    traffic = layer_traffic(model, dtype, batch)
    kept = _on_chip(model, traffic, device)
    peak = device.peak(dtype)
    per_mac = (device.j_per_mac or {}).get(dtype)
    size = DTYPE_BYTES[dtype]
    shapes = {layer.name: layer.cost.output_shape for layer in model.layers}
    out = []
    for layer, t in zip(model.layers, traffic, strict=True):
        saved = sum(size * batch * math.prod(shapes[name]) for name in layer.inputs if name in kept)
        dram = t.bytes - saved - (t.output_bytes if layer.name in kept else 0)
        work = t.macs + (t.elementwise if elementwise else 0)
        energy = None if per_mac is None else work * per_mac + dram * device.j_per_byte
        out.append(LayerTime(t, dram, work / peak, dram / device.bandwidth, energy))
    return out


def device_report(
    model: ModelCost, device: Device | None, dtype: str = "float32", batch: int = 1
) -> dict[str, Any]:
    """The ``"device"`` part of ``sepconv ops model --device`` (model estimates).

    Without a device, only the traffic: bytes and intensity per layer, their totals and the
    peak activation memory (``device`` None, no time or energy).

    ``{"estimate", "device", "dtype", "batch", "layers": [{"name", traffic and roofline
    keys}], "total": {"macs", "bytes", "dram_bytes", "time_s", "energy_j"},
    "peak_activation"}``; totals are the sums over the layers (layers run one after another).

    Examples
    --------
    >>> from sepconv_cli.costs.models import parse_model_spec, model_costs
    >>> net = model_costs(parse_model_spec('input = [8, 8, 4]\\n[[layer]]\\ntype = "pw"\\nout = 8'))
    >>> report = device_report(net, Device("toy", {"float32": 1e9}, 1e9))
    >>> report["total"]["dram_bytes"], report["layers"][0]["bound"]
    (3200, 'memory')
    """
    from sepconv_cli.costs.traffic import peak_activation_memory

    traffic = layer_traffic(model, dtype, batch)
    layers = [{"name": t.name, "macs": t.macs, **t.as_dict()} for t in traffic]
    total: dict[str, Any] = {
        "macs": sum(t.macs for t in traffic),
        "bytes": sum(t.bytes for t in traffic),
    }
    if device is not None:
        times = roofline(model, device, dtype, batch)
        for row, t in zip(layers, times, strict=True):
            row.update(t.as_dict())
        energies = [t.energy_j for t in times]
        total["dram_bytes"] = sum(t.dram_bytes for t in times)
        total["time_s"] = sum(t.time_s for t in times)
        total["energy_j"] = None if None in energies else sum(energies)
    return {
        "estimate": "roofline model estimates, not measurements",
        "device": None if device is None else device.as_dict(),
        "dtype": dtype,
        "batch": batch,
        "layers": layers,
        "total": total,
        "peak_activation": peak_activation_memory(model, dtype, batch).as_dict(),
    }
