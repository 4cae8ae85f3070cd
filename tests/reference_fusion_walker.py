"""A slow, literal reference for two chained layers whose intermediate tensor stays on chip (mapper.fusion).

Producer ``u`` → consumer ``v``: ``u``'s output tensor T lives in the fusion level ``X`` (a reserved region),
not in DRAM.  Nothing here uses :func:`mapper.fusion.relocate`'s equations or the kernel's counts.  Each
layer's mapped loop nest is walked by :func:`tests.reference_walker.walk` — every access count, with its
sliding-window (halo) reuse, coincidences and slide-direction resets — and every value that walk moves
between DRAM and the first level below it that keeps T's operand (the *top pair*) is charged to the memory
that holds T (its home, ``X``; zero padding included: the single-layer model charges padded input pixels as
reads, so they are read where the tensor is):

* when ``X`` is not the pair's child (the mapping bypasses ``X`` for the operand, or keeps it above ``X``),
  the values cross ``X``'s port instead of DRAM's: DRAM's reads / writes of the operand become ``X``'s;
* when the pair's child *is* ``X``, the values are already where the child holds them, and neither side of
  those transfers happens: DRAM's reads / writes of the operand are dropped, and so are the child's sides of
  them — the fills (``X``'s writes of a read-only operand: in the walker a read-only operand is written at a
  level only by its fills as the child), and for T as the producer's output, the partial sums read back down
  into ``X`` and (``conventions.psum_drain_read``) the ``X`` reads of every drain.  ``X`` is one instance
  with no fan-out above it, so in the walker's rules each fill / read-back / drain of that child is exactly
  one DRAM access of the same value (one child: no multicast union, no spatial reduction, no
  read-modify-write reads); the walk checks this for the fills, the one side it can observe alone.

The walk also checks the chain itself: the elements the consumer reads (padding excluded, mapped from its
operand coordinates to the producer's (g, n, k, p, q)) are exactly elements the producer writes, so no
consumer value comes from anywhere but T.  Energies, bandwidth times, latency and static energy are then
recomputed from the literal counts with the per-access costs of the config (level energies per bit × the
operand's bits at that level) and the overlapped-bandwidth rule of :mod:`accel.cost` (the first tile, the
last output tile and ``serial_onload`` transfers — the single-layer mapping's, which fusion does not change
— are counted once, outside the overlapped time).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

try:  # tests/ as a package or as a rootdir-relative directory
    from tests.reference_walker import access_energy, coordinate_fn, walk
except ImportError:  # pragma: no cover
    from reference_walker import access_energy, coordinate_fn, walk


@dataclass
class PairResult:
    reads: list  # [producer (L, 3), consumer (L, 3)] values
    writes: list
    energy_pj: list  # per layer
    latency_cycles: list
    dram_bits: float  # both layers, all operands


def producer_coord_of(u, v, o: int):
    """Consumer operand-``o`` coordinate → the producer's output coordinate (None for zero padding)."""
    if o == 1 and v.window:
        pt, pl = v.padding[0], v.padding[1]

        def f(c):
            *lead, h, w = c
            h, w = h - pt, w - pl
            return tuple(lead) + (h, w) if 0 <= h < u.P and 0 <= w < u.Q else None
        return f
    return lambda c: c


def touched(layer, o: int) -> set:
    """Every coordinate of operand ``o`` that an in-bounds iteration point of ``layer`` touches."""
    coord = coordinate_fn(layer, o)
    return {coord(p) for p in itertools.product(*(range(d) for d in layer.dims))}


def walk_pair(u, v, o: int, arch, mu, mv, level: int) -> tuple[PairResult, PairResult]:
    """Literal costs of ``u`` → ``v`` (T fills ``v``'s operand ``o``) with T held in ``level`` and, for
    comparison, in DRAM (no fusion): ``(held, unfused)``."""
    a = arch.arrays
    L = a.n_levels
    X = level
    drained = touched(u, 2)
    need = {producer_coord_of(u, v, o)(c) for c in touched(v, o)} - {None}
    assert need <= drained, "the consumer reads elements the producer never wrote"
    held, unfused = PairResult([], [], [], [], 0.0), PairResult([], [], [], [], 0.0)
    for layer, m, op in ((u, mu, 2), (v, mv, o)):
        w = walk(layer, arch, m.temporal, m.spatial_x, m.spatial_y, m.order, m.keep)
        child = next((lv for lv in range(1, L) if m.keep[lv][op] == 1), L)
        reads, writes = w.reads.copy(), w.writes.copy()
        r0, w0 = reads[0, op], writes[0, op]
        reads[0, op] = writes[0, op] = 0.0
        if child != X:  # T's values cross X's port instead of DRAM's
            reads[X, op] += r0
            writes[X, op] += w0
        elif op < 2:  # X's fills of T from DRAM do not happen
            assert writes[X, op] == r0, "a fill of the one-instance X is not one DRAM read"
            writes[X, op] = 0.0
        else:  # nor the psum read-backs into X, nor X's drain reads
            writes[X, op] -= r0
            if arch.config.conventions.psum_drain_read:
                reads[X, op] -= w0
        rec, serial = _single_layer(layer, arch, m)
        for res, rd, wr in ((unfused, w.reads, w.writes), (held, reads, writes)):
            energy = access_energy(arch, rd, wr, w.instances)
            bw = rec.raw_bw.copy()
            for lv in (0, X):  # one instance each: DRAM and the fusion level (a single shared buffer)
                r = max(0.0, float((rd[lv] * a.op_bits[lv]).sum()) - serial[lv, 0])
                wb = max(0.0, float((wr[lv] * a.op_bits[lv]).sum()) - serial[lv, 1])
                bw[lv] = (r + wb) / a.read_bw[lv] if a.shared_port[lv] else max(r / a.read_bw[lv], wb / a.write_bw[lv])
            lat = max(rec.busy, float(bw.max())) + rec.fill + w.onload_cycles
            static = a.static_power_mw * 1e-3 * lat / a.clock_hz * 1e12
            res.energy_pj.append(float(energy.sum()) + rec.noc + rec.mac + static)
            res.latency_cycles.append(lat)
            res.reads.append(rd)
            res.writes.append(wr)
            res.dram_bits += float(((rd[0] + wr[0]) * a.op_bits[0]).sum())
    return held, unfused


@dataclass
class _Scalars:
    raw_bw: np.ndarray
    busy: float
    fill: float
    noc: float
    mac: float


def _single_layer(layer, arch, m) -> tuple[_Scalars, np.ndarray]:
    """The terms that fusion does not change (compute, fill/drain, NoC, MAC energy, the bits counted outside
    the overlapped bandwidth time) and the bandwidth times of the levels other than DRAM and X, taken from the
    single-layer model (the walker does not time those; tests/test_cost_reference.py checks the counts behind
    them, tests/test_conventions.py the serial-bit rule)."""
    from accel.cost import evaluate
    from mapper.fusion import serial_bits

    c = evaluate(layer, arch, m)
    names = arch.level_names
    return (_Scalars(np.array([c.bandwidth_cycles[n] for n in names]),
                     c.compute_cycles + c.accumulate_cycles + c.fold_overhead_cycles, c.fill_drain_cycles,
                     c.noc_energy_pj, c.mac_energy_pj),
            serial_bits(layer, arch, m)[1])


def isclose(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
