"""Queueing theory for the server scenario's check: the M/D/1 queue, exactly.

Poisson arrivals at rate lambda, one server, a fixed service time D. The
waiting time (before service starts) has Erlang's exact distribution
(A. K. Erlang, 1909; see Iversen, "Teletraffic Engineering and Network
Planning", ch. 13, "M/D/1"):

    P(W <= t) = (1 - rho) * sum_{k=0}^{floor(t/D)} (lambda (kD - t))^k / k! * exp(-lambda (kD - t))

with rho = lambda D < 1. The sum alternates and its terms grow like
exp(2 lambda t), so it is evaluated in decimal arithmetic with enough digits
that the cancellation leaves the result exact to double precision. A
request's latency (what LoadGen measures) is its sojourn time W + D.
"""

from __future__ import annotations

import math
from decimal import Context, Decimal


def waiting_cdf(t_s: float, rate_per_s: float, service_s: float) -> float:
    """P(W <= t) for M/D/1: the probability a request waits at most `t_s` before its service starts."""
    rho = rate_per_s * service_s
    if not 0 <= rho < 1:
        raise ValueError(f"utilisation {rho:.3f} is outside [0, 1): the queue has no steady state")
    if t_s < 0:
        return 0.0
    if rho == 0:
        return 1.0
    # Each term is at most exp(2 lambda t) in size; keep that many digits and 30 more.
    digits = int(2 * rate_per_s * t_s / math.log(10)) + 30
    ctx = Context(prec=digits)
    lam, t, d = Decimal(rate_per_s), Decimal(t_s), Decimal(service_s)
    total = Decimal(0)
    factorial = Decimal(1)
    for k in range(int(math.floor(t_s / service_s + 1e-12)) + 1):
        if k:
            factorial = ctx.multiply(factorial, Decimal(k))
        x = ctx.multiply(lam, ctx.subtract(ctx.multiply(Decimal(k), d), t))  # lambda (kD - t) <= 0
        total = ctx.add(total, ctx.divide(ctx.multiply(ctx.power(x, k) if k else Decimal(1), ctx.exp(ctx.minus(x))), factorial))
    return min(1.0, max(0.0, float(ctx.multiply(Decimal(1) - Decimal(rho), total))))


def sojourn_cdf(t_s: float, rate_per_s: float, service_s: float) -> float:
    """P(W + D <= t): a request's latency from arrival to completion."""
    return waiting_cdf(t_s - service_s, rate_per_s, service_s) if t_s >= service_s else 0.0


def sojourn_quantile(q: float, rate_per_s: float, service_s: float, tol_s: float = 1e-7) -> float:
    """The latency that a fraction `q` (0.99 for p99) of requests stay within."""
    if not 0 < q < 1:
        raise ValueError(f"quantile {q} is outside (0, 1)")
    lo, hi = service_s, 2 * service_s
    while sojourn_cdf(hi, rate_per_s, service_s) < q:
        lo, hi = hi, 2 * hi
    while hi - lo > tol_s:
        mid = (lo + hi) / 2
        if sojourn_cdf(mid, rate_per_s, service_s) < q:
            lo = mid
        else:
            hi = mid
    return hi


def mean_sojourn_s(rate_per_s: float, service_s: float) -> float:
    """Pollaczek-Khinchine for deterministic service: D + rho D / (2 (1 - rho))."""
    rho = rate_per_s * service_s
    return service_s + rho * service_s / (2 * (1 - rho))


def max_rate_within(latency_s: float, q: float, service_s: float, tol: float = 1e-4) -> float:
    """The highest arrival rate whose `q` latency quantile stays within `latency_s` (0 if D alone exceeds it)."""
    if latency_s <= service_s:
        return 0.0
    lo, hi = 0.0, 1.0  # utilisation
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if sojourn_quantile(q, mid / service_s, service_s) <= latency_s:
            lo = mid
        else:
            hi = mid
    return lo / service_s
