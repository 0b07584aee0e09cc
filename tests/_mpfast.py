"""Fixed-node mpmath quadrature for the subsampled-Gaussian MGF, for references that need G(w) at many w.

G(w) = E[(1 + u(X))^w], X ~ N(0, 1), u(x) = q (e^{mu x - mu^2/2} - 1), written here from the definition
(no ewacct code).  ``mp.quad`` re-runs its adaptive tanh-sinh rule, with its error estimates and a fresh
expm1 / log1p / npdf at every node, for every w; the contour references below need G at ~1000 points w on
one line, so the x-integral is done once on a fixed composite Gauss-Legendre rule instead:

    G(w) ~= sum_i A_i exp(w L_i),   A_i = (GL weight) phi(x_i),   L_i = log1p(q expm1(mu x_i - mu^2/2)),

with A_i, L_i computed in mpmath at ``dps + 10`` digits.  The panels resolve the oscillation e^{i b l(x)}
for every |b| <= bmax: a panel of width h carries at most THETA = 10 radians of phase (b l' <= bmax l'(right
end), l' increasing), which the N_GL = 20-point rule integrates to ~1e-30 relative (GL remainder
h^{2n+1} (n!)^4 / ((2n+1) ((2n)!)^3) |f^{(2n)}| with |f^{(2n)}| ~ (b l')^{2n}: (10)^40 * 1.6e-72 ~ 1e-32),
and the width is at most HMAX = 0.5 for the Gaussian factor.  The range [-K, max(a, 0) mu + K] drops a
part of the integral bounded in closed form (``tail_bound``; K = 11: < 1e-26 of G(a) at the points used):

* x < -K: 1 + u in (1 - q, 1), so |(1 + u)^w| <= max(1, (1 - q)^a): the part is <= Phi(-K) max(1, (1 - q)^a);
* x > R, a >= 0: l = log(1 + u) has l' = mu q e^z / (1 - q + q e^z) <= mu (z = mu x - mu^2/2), so
  (1 + u(x))^a <= (1 + u(R))^a e^{a mu (x - R)} and the part is <= (1 + u(R))^a e^{a^2 mu^2/2 - a mu R}
  Phi(a mu - R) (the integral of phi(x) e^{t x} over x > R is e^{t^2/2} Phi(t - R));
* x > R, a < 0: 1 + u >= 1 - q, so the part is <= Phi(-R) (1 - q)^a.

The quadrature error of the panels is not bounded by this code: the tests that use it check it against a
finer rule (``refine=True``: half-width panels, 28 points) and against the former mp.quad references.
"""

from __future__ import annotations

import math
from functools import lru_cache

import mpmath as mp

N_GL = 20
THETA = 10.0
HMAX = 0.5
K_TAIL = 11.0


@lru_cache(maxsize=None)
def _gl(n: int, dps: int) -> tuple:
    with mp.workdps(dps):
        xs, ws = mp.gauss_quadrature(n, "legendre")
        return tuple(xs), tuple(ws)


def _lprime(q: float, mu: float, x: float) -> float:
    """d/dx log(1 - q + q e^{mu x - mu^2/2}) = mu / (1 + (1 - q)/q e^{-z}) (floats: only sizes panels)."""
    if q >= 1.0:
        return mu
    t = math.log((1.0 - q) / q) - (mu * x - 0.5 * mu * mu)
    return mu / (1.0 + math.exp(min(t, 700.0)))


def _panels(q: float, mu: float, lo: float, hi: float, bmax: float, theta: float, hmax: float) -> list:
    out, x = [], lo
    while x < hi:
        h = min(hmax, hi - x)
        while bmax * _lprime(q, mu, x + h) * h > theta:
            h *= 0.8
        out.append((x, x + h))
        x += h
    return out


class SgNodes:
    """The fixed rule for G(w) at Re w in [a_lo, a_hi] and |Im w| <= bmax (module docstring)."""

    def __init__(self, q, mu, a_lo: float, a_hi: float, bmax: float, dps: int = 20, refine: bool = False):
        self.q, self.mu, self.a_lo, self.a_hi, self.dps = q, mu, a_lo, a_hi, dps
        n = 28 if refine else N_GL
        theta, hmax = (THETA / 2, HMAX / 2) if refine else (THETA, HMAX)
        self.lo = -K_TAIL
        self.hi = max(a_hi, 0.0) * float(mu) + K_TAIL
        panels = _panels(float(q), float(mu), self.lo, self.hi, float(bmax), theta, hmax)
        with mp.workdps(dps + 10):
            ts, ws = _gl(n, dps + 10)
            q_, mu_ = mp.mpf(q), mp.mpf(mu)
            A, L = [], []
            for p0, p1 in panels:
                mid, half = (mp.mpf(p0) + mp.mpf(p1)) / 2, (mp.mpf(p1) - mp.mpf(p0)) / 2
                for t, w in zip(ts, ws):
                    x = mid + half * t
                    A.append(half * w * mp.npdf(x))
                    L.append(mp.log1p(q_ * mp.expm1(mu_ * x - mu_ * mu_ / 2)))
        with mp.workdps(dps):
            self.A = [+a for a in A]
            self.L = [+v for v in L]
        self.n = len(self.A)

    def tail_bound(self, a) -> mp.mpf:
        """The dropped part of the integral of |phi (1 + u)^w| at Re w = a (module docstring)."""
        with mp.workdps(self.dps + 10):
            q, mu, a = mp.mpf(self.q), mp.mpf(self.mu), mp.mpf(a)
            low = mp.ncdf(self.lo) * max(mp.mpf(1), (1 - q) ** a)
            R = mp.mpf(self.hi)
            if a >= 0:
                lR = mp.log1p(q * mp.expm1(mu * R - mu * mu / 2))
                up = mp.exp(a * lR + a * a * mu * mu / 2 - a * mu * R) * mp.ncdf(a * mu - R)
            else:
                up = mp.ncdf(-R) * (1 - q) ** a
            return low + up

    def G(self, w) -> mp.mpc:
        """G(w) = sum_i A_i exp(w L_i) (one w: complex exponentials)."""
        with mp.workdps(self.dps):
            w = mp.mpc(w)
            return mp.fsum(a * mp.exp(w * v) for a, v in zip(self.A, self.L))

    def line(self, a) -> "_Line":
        return _Line(self, a)


class _Line:
    """G(a + ib) for many b at one a: B_i = A_i e^{a L_i} once, then sum_i B_i (cos b L_i + i sin b L_i)."""

    def __init__(self, nodes: SgNodes, a):
        self.nodes = nodes
        with mp.workdps(nodes.dps):
            a = mp.mpf(a)
            self.B = [x * mp.exp(a * v) for x, v in zip(nodes.A, nodes.L)]

    def G(self, b) -> mp.mpc:
        with mp.workdps(self.nodes.dps):
            b = mp.mpf(b)
            re, im = mp.mpf(0), mp.mpf(0)
            for B, v in zip(self.B, self.nodes.L):
                c, s = mp.cos_sin(b * v)
                re += B * c
                im += B * s
            return mp.mpc(re, im)

    def G_fixed(self, b) -> mp.mpc:
        """G(a + ib) as ``G`` but in fixed-point integers (mpmath's own cos_sin_basecase after reduction by
        pi/2): B_i / sum B and L_i scaled by 2^wp, wp = 3.33 dps + 40 bits, so the sum's absolute error is
        ~ n 2^-wp G(a), below the floating sum's ~ 10^-dps G(a); 8-10x faster (no mpf objects per node)."""
        from mpmath.libmp.libelefun import cos_sin_basecase, pi_fixed

        if not hasattr(self, "_fx"):
            wp = int(self.nodes.dps * 3.33) + 40
            with mp.workdps(self.nodes.dps + 10):
                tot = mp.fsum(self.B)
                Bf = [int(mp.nint(mp.ldexp(x / tot, wp))) for x in self.B]
                Lf = [int(mp.nint(mp.ldexp(v, wp))) for v in self.nodes.L]
            self._fx = (wp, tot, Bf, Lf, pi_fixed(wp) >> 1)
        wp, tot, Bf, Lf, hp = self._fx
        with mp.workdps(self.nodes.dps + 10):
            bf = int(mp.nint(mp.ldexp(mp.mpf(b), wp)))
        re = im = 0
        for B, v in zip(Bf, Lf):
            x = (bf * v) >> wp
            neg = x < 0
            m, r = divmod(-x if neg else x, hp)
            c, s = cos_sin_basecase(r, wp)
            m &= 3
            if m == 1:
                c, s = -s, c
            elif m == 2:
                c, s = -c, -s
            elif m == 3:
                c, s = s, -c
            re += B * c
            im += B * (-s if neg else s)
        with mp.workdps(self.nodes.dps):
            return mp.mpc(mp.ldexp(re, -2 * wp), mp.ldexp(im, -2 * wp)) * tot


def sg_delta_contour(q: float, s: float, T: int, eps: float, c: float, U: float, direction: str = "remove",
                     dps: int = 20, panel: float = 2.5, n_out: int = 20, refine: bool = False,
                     fixed_point: bool = True) -> float:
    """delta by mpmath: (1/pi) int_0^U Re[exp(T log G(w) - z eps) / (z (z+1))] du, z = c + iu, w = z + 1
    (REMOVE) or -z (ADD); the u-integral on composite ``n_out``-point Gauss-Legendre panels of width
    <= ``panel``; G on fixed x-rules (``SgNodes``) whose bmax doubles from band to band (each outer panel
    uses the first rule that resolves its largest |Im w|)."""
    mu = 1.0 / s
    a = c + 1.0 if direction == "remove" else -c
    npan = max(1, math.ceil(U / panel))
    edges = [U * k / npan for k in range(npan + 1)]
    lines = {}

    def line_for(b):
        bmax = max(U / 64.0, 1.0)
        while bmax < b * (1 + 1e-12):
            bmax *= 2.0
        if bmax not in lines:
            lines[bmax] = SgNodes(q, mu, a, a, bmax, dps=dps, refine=refine).line(a)
        return lines[bmax]

    with mp.workdps(dps):
        ts, ws = _gl(n_out, dps)
        eps_, c_ = mp.mpf(eps), mp.mpf(c)
        tot = mp.mpf(0)
        for u0, u1 in zip(edges[:-1], edges[1:]):
            ln = line_for(u1)
            mid, half = (mp.mpf(u0) + mp.mpf(u1)) / 2, (mp.mpf(u1) - mp.mpf(u0)) / 2
            for t, w in zip(ts, ws):
                u = mid + half * t
                z = mp.mpc(c_, u)
                b = u if direction == "remove" else -u
                G = ln.G_fixed(b) if fixed_point else ln.G(b)
                tot += half * w * mp.re(mp.exp(T * mp.log(G) - z * eps_) / (z * (z + 1)))
        return float(tot / mp.pi)


# ----------------------------------------------------------------------------- PLRV cumulants on fixed nodes
def _sg_cumulants_fixed(q, sigma, side: str, n: int, dps: int, fine: bool, check: bool) -> list:
    """kappa_1..kappa_n of the subsampled-Gaussian PLRV, the integrals of mpref._sg_cumulants_at (same
    scaled loss y = l / S, same break points) on a fixed Gauss-Legendre rule: y(x) (and y(x + mu) for
    'alt') is computed once per node and shared by the n + 1 moment integrals, instead of once per node
    of each of mp.quad's n + 1 adaptive runs.  Panels: the break points, cut to width <= min(0.5, 1/mu);
    N_GL (check: 28) points each; range [-30, 45] (check: [-40, 55]): phi < 1e-195 outside, where y
    grows linearly in x."""
    from mpref import _cum_from_central

    with mp.workdps(dps):
        q = mp.mpf(q)
        mu = 1 / mp.mpf(sigma)
        S = q * mp.sqrt(mp.expm1(mu * mu))

        def y(x):
            return mp.log1p(q * mp.expm1(mu * x - mu * mu / 2)) / S

        xc = (mu * mu / 2 - mp.log(q)) / mu
        knees = [xc + d for d in (-2 / mu, -1 / mu, 0, 1 / mu, 2 / mu)]
        knees = [k for k in knees + [k - mu for k in knees] if -14 < k < 14 + mu]
        lo, hi = (-40, 55) if check else (-30, 45)
        pts = {mp.mpf(lo), mp.mpf(-12), mp.mpf(0), mu / 2, mu, 2 * mu, 6 * mu, mp.mpf(12) + mu, mp.mpf(hi), *knees}
        if fine:
            step = min(mp.mpf(1), 1 / mu)
            pts |= {-12 + k * step for k in range(int(52 / step) + 1)}
        pts = sorted(p for p in pts if lo <= p <= hi)
        hmax = min(mp.mpf(0.5), 1 / mu)
        ts, ws = _gl(28 if check else N_GL, dps)
        X, W = [], []
        for a, b in zip(pts[:-1], pts[1:]):
            k = max(1, int(mp.ceil((b - a) / hmax)))
            for j in range(k):
                p0, p1 = a + (b - a) * j / k, a + (b - a) * (j + 1) / k
                mid, half = (p0 + p1) / 2, (p1 - p0) / 2
                for t, w in zip(ts, ws):
                    X.append(mid + half * t)
                    W.append(half * w * mp.npdf(mid + half * t))
        Y = [y(x) for x in X]
        if side == "null":
            pairs = [(W, Y)]
        else:
            pairs = [([(1 - q) * w for w in W], Y), ([q * w for w in W], [y(x + mu) for x in X])]

        def moments(m1):
            c = [mp.mpf(0)] * (n + 1)
            for ww, yy in pairs:
                for w, v in zip(ww, yy):
                    d, p = v - m1, w
                    for k in range(n + 1):
                        c[k] += p
                        p *= d
            return c

        m1 = mp.mpf(0)  # the mean first (the same sum, in the same order, as moments(0)[1])
        for ww, yy in pairs:
            for w, v in zip(ww, yy):
                m1 += w * v
        c = moments(m1)
        c = [mp.mpf(1), mp.mpf(0)] + c[2:]
        kap = _cum_from_central(c)
        return [m1 * S] + [kap[k] * S**k for k in range(2, n + 1)]


@lru_cache(maxsize=None)
def sg_cumulants_fixed(q: float, sigma: float, side: str, n: int = 6, dps: int = 40, fine: bool = False) -> tuple:
    """kappa_1..kappa_n under 'null' (P0) or 'alt' (P1), as mpref.sg_cumulants, on fixed nodes: computed at
    ``dps`` on the N_GL-point panels and at ``dps + 20`` on the 28-point panels over a wider range; raises
    AssertionError unless the two agree to 1e-14 relative in every cumulant (the check covers the working
    precision, the rule and the truncation of the range)."""
    if dps < 40:
        raise ValueError("the reference runs at >= 40 digits")
    a = _sg_cumulants_fixed(q, sigma, side, n, dps, fine, False)
    b = _sg_cumulants_fixed(q, sigma, side, n, dps + 20, fine, True)
    with mp.workdps(dps + 20):
        for j, (x, z) in enumerate(zip(a, b)):
            assert abs(x - z) <= mp.mpf("1e-14") * abs(z), (q, sigma, side, j + 1, x, z)
    return tuple(float(v) for v in b)
