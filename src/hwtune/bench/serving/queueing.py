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
    for k in range(math.floor(t_s / service_s + 1e-12) + 1):
        if k:
            factorial = ctx.multiply(factorial, Decimal(k))
        x = ctx.multiply(lam, ctx.subtract(ctx.multiply(Decimal(k), d), t))  # lambda (kD - t) <= 0
        term = ctx.multiply(ctx.power(x, k) if k else Decimal(1), ctx.exp(ctx.minus(x)))
        total = ctx.add(total, ctx.divide(term, factorial))
    return min(1.0, max(0.0, float(ctx.multiply(Decimal(1) - Decimal(rho), total))))


def sojourn_cdf(t_s: float, rate_per_s: float, service_s: float) -> float:
    """P(W + D <= t): a request's latency from arrival to completion."""
    return waiting_cdf(t_s - service_s, rate_per_s, service_s) if t_s >= service_s else 0.0


def sojourn_quantile(q: float, rate_per_s: float, service_s: float, tol_s: float = 1e-7,
                     cap_s: float = math.inf) -> float:
    """The latency that a fraction `q` (0.99 for p99) of requests stay within; inf when it is beyond
    `cap_s` (the exact sum costs digits in proportion to lambda t, so near rho = 1 a cap keeps it cheap)."""
    if not 0 < q < 1:
        raise ValueError(f"quantile {q} is outside (0, 1)")
    lo, hi = service_s, 2 * service_s
    while sojourn_cdf(hi, rate_per_s, service_s) < q:
        if hi > cap_s:
            return math.inf
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


def binomial_cdf(t: int, n: int, p: float) -> float:
    """P(Binomial(n, p) <= t)."""
    if t < 0:
        return 0.0
    if p <= 0:
        return 1.0
    if p >= 1:
        return 1.0 if t >= n else 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    return min(1.0, sum(math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                                 + k * log_p + (n - k) * log_q) for k in range(0, min(t, n) + 1)))


def early_stopping_max_overlatency(n: int, percentile: float = 0.99, confidence: float = 0.99) -> int:
    """LoadGen's early stopping (loadgen/early_stopping.cc): a run of n queries vouches for its
    percentile when P(Binomial(n, 1 - percentile) <= t) < 1 - confidence for its t overlatency
    queries. The largest such t, or -1 when even none is too few (n below 459 for p99)."""
    miss = 1 - percentile
    log_p, log_q = math.log(miss), math.log1p(-miss)
    cdf, t = 0.0, -1
    while t + 1 <= n:
        k = t + 1
        cdf += math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q)
        if cdf >= 1 - confidence:
            break
        t = k
    return t


def max_rate_valid(latency_s: float, q: float, service_s: float, duration_s: float, confidence: float = 0.99,
                   tol: float = 1e-4) -> float:
    """The highest rate at which a LoadGen server run of `duration_s` is as likely as not to pass
    early stopping: its overlatency count (binomial, each query over the budget with the M/D/1
    probability) is within what early stopping allows with probability >= 1/2. Below
    max_rate_within, and closer to it the longer the run."""
    if latency_s <= service_s:
        return 0.0
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = (lo + hi) / 2
        rate = mid / service_s
        n = int(rate * duration_s)
        allowed = early_stopping_max_overlatency(n, q, confidence)
        over = 1 - sojourn_cdf(latency_s, rate, service_s)
        if binomial_cdf(allowed, n, over) >= 0.5:
            lo = mid
        else:
            hi = mid
    return lo / service_s


# The server search's model of `instances` instances, each serving one request in D: one server c
# times as fast (M/D/1 with service D/c), plus the D - D/c each request spends in its own slower
# instance. Exact for one instance; for more, it sets where the search starts and how far it
# moves, while the LoadGen runs decide.
def server_quantile_s(q: float, rate_per_s: float, service_s: float, instances: int = 1,
                      cap_s: float = math.inf) -> float:
    fast = service_s / instances
    if rate_per_s * fast >= 1:
        return math.inf
    return sojourn_quantile(q, rate_per_s, fast, cap_s=cap_s) + service_s - fast


def server_rate_within(latency_s: float, q: float, service_s: float, instances: int = 1) -> float:
    """The highest rate whose q-latency stays within `latency_s` in the model above."""
    fast = service_s / instances
    return max_rate_within(latency_s - (service_s - fast), q, fast)


def fitted_service_s(latency_s: float, q: float, rate_per_s: float, instances: int = 1) -> float:
    """The service time D at which the model's q-latency at `rate_per_s` is `latency_s` (a run
    measured it): what the host behaved like. At most the D that fills every instance."""
    lo, hi = 0.0, instances / rate_per_s
    for _ in range(22):  # D to one part in four million
        mid = (lo + hi) / 2
        if server_quantile_s(q, rate_per_s, mid, instances, cap_s=latency_s * 1.01) < latency_s:
            lo = mid
        else:
            hi = mid
    return lo
