"""The paper's Table 1 (model size analytics over M and K) for any |V|, N, M, K.

The paper counts every stored number as one unit: a full table is |V|*N units, the
compositional form M*K*N (codebooks) + M*|V| (codes), so (Eq. 13)

    rate = |V| N / (M K N + M |V|).

Real bytes differ: a code needs only ceil(log2 K) bits, a float 4 bytes; both are shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolchain.compression.code_bits import bits_for, eq13_ratio, smallest_uint


@dataclass
class Table1Row:
    """One Table 1 row: units, Eq. 13 rate and bytes of a full |V| x N table vs its M x K codes form."""
    n_items: int
    dim: int
    m: int
    k: int

    @property
    def original_units(self) -> int:
        return self.n_items * self.dim

    @property
    def compressed_units(self) -> int:
        return self.m * self.k * self.dim + self.m * self.n_items

    @property
    def rate(self) -> float:
        return eq13_ratio(self.n_items, self.dim, self.m, self.k)

    @property
    def original_bytes(self) -> int:
        return self.n_items * self.dim * 4

    def compressed_bytes(self, packed: bool = True) -> int:
        """fp32 codebooks + codes (bit-packed, or in the smallest unsigned dtype)."""
        codes = self.n_items * self.m
        code_bytes = (codes * bits_for(self.k) + 7) // 8 if packed else codes * smallest_uint(self.k).itemsize
        return self.m * self.k * self.dim * 4 + code_bytes

    def to_dict(self) -> dict:
        return {"items": self.n_items, "dim": self.dim, "M": self.m, "K": self.k,
                "original_units": self.original_units, "compressed_units": self.compressed_units,
                "rate_eq13": self.rate, "original_bytes": self.original_bytes,
                "compressed_bytes_packed": self.compressed_bytes(True),
                "compressed_bytes_uint": self.compressed_bytes(False),
                "byte_ratio_packed": self.original_bytes / self.compressed_bytes(True)}


def table1(n_items: int, dim: int, ms: list[int], ks: list[int]) -> list[Table1Row]:
    """A Table1Row for every (M, K) pair of ``ms`` x ``ks``, M varying slowest."""
    return [Table1Row(n_items, dim, m, k) for m in ms for k in ks]
