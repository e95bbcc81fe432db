"""`weights = "pytorch"` and `bias = "pytorch"`: PyTorch's default `nn.Linear` initialisation, drawn
with numpy, bit for bit the numbers that `torch.manual_seed(seed)` followed by building the network's
`nn.Linear(fan_in, units, dtype=torch.float64)` layers in order gives.

nn.Linear.reset_parameters: weights by kaiming_uniform_(a=√5), i.e. U(−bound, bound) with
bound = √3·gain/√fan_in, gain = √(2/(1 + √5²)) (= 1/√fan_in up to rounding); biases by
U(−1/√fan_in, 1/√fan_in). PyTorch's CPU generator is the 32-bit Mersenne Twister seeded with
init_genrand(seed) — numpy's legacy RandomState(seed) is the same generator — and a float64
uniform_ takes two 32-bit outputs (high word first), keeps 53 bits k, and returns
fma(k·2⁻⁵³, to − from, from): one rounding, reproduced here with exact integer arithmetic.

Every layer draws as its nn.Linear would (weights, then biases when the layer has one bias per
neuron), whether or not the spec uses the numbers, so the draws of layer 2 are the same as in
PyTorch even when layer 1's weights are written out.
"""

from __future__ import annotations

import math

import numpy as np

GAIN = math.sqrt(2.0 / (1 + math.sqrt(5) ** 2))  # torch.nn.init.calculate_gain("leaky_relu", √5)


def weight_bound(fan_in: int) -> float:
    # kaiming_uniform_: std = gain / √fan_in, bound = √3·std (as PyTorch computes it, in this order)
    return math.sqrt(3.0) * (GAIN / math.sqrt(fan_in))


def bias_bound(fan_in: int) -> float:
    return 1 / math.sqrt(fan_in) if fan_in > 0 else 0


class LinearInit:
    """PyTorch's generator for one spec: draws are made lazily, layer by layer, in order."""

    def __init__(self, seed: int):
        self.seed, self.rs = seed, None

    def _uniform(self, n: int, low: float, high: float) -> list[float]:
        if self.rs is None:
            self.rs = np.random.RandomState(self.seed)  # MT19937, init_genrand(seed): torch.manual_seed(seed)
        raw = self.rs.randint(0, 2**32, size=2 * n, dtype=np.uint32).astype(object)  # full-range: raw outputs
        ks = [(int(hi) << 32 | int(lo)) & ((1 << 53) - 1) for hi, lo in zip(raw[0::2], raw[1::2])]
        # fma(k·2⁻⁵³, high − low, low), rounded once: exact as a ratio of integers, then int / int (correctly rounded)
        r_num, r_den = (high - low).as_integer_ratio()
        f_num, f_den = float(low).as_integer_ratio()
        den = (1 << 53) * r_den * f_den
        return [(k * r_num * f_den + f_num * r_den * (1 << 53)) / den for k in ks]

    def linear(self, units: int, fan_in: int, bias: bool):
        """One nn.Linear(fan_in, units, bias=bias): its weights (units rows of fan_in) and biases (or None)."""
        w = self._uniform(units * fan_in, -weight_bound(fan_in), weight_bound(fan_in))
        weights = tuple(tuple(w[j * fan_in:(j + 1) * fan_in]) for j in range(units))
        b = tuple(self._uniform(units, -bias_bound(fan_in), bias_bound(fan_in))) if bias else None
        return weights, b
