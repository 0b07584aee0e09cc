"""REMOVE's delta(eps) of one Poisson-subsampled Gaussian group where delta is carried by single large steps
(tiny q, huge T): the composition conditioned on the number J of steps beyond a cut x_b, the J = 1 term as the
one-step hockey stick in closed form averaged over the other steps' loss by a Taylor expansion with proven
remainder (docs/certified.md section 9).  Everything is evaluated in Arb (python-flint) except the floats that
choose x_b, the shells and the eps guess (any choice is valid; they decide the width only).

Setting: P_1 = (1 - q) N(0, 1) + q N(mu, 1), Q = N(0, 1), l(x) = log(dP_1/dQ)(x) = log(1 - q + q e^{mu x - mu^2/2})
(increasing), L = sum_{i <= n} l(X_i) with X_i iid P_1, delta(eps) = E[(1 - e^{eps - L})_+] (REMOVE).  With
p = P_1(X > x_b), J = #{i: X_i > x_b}:

    delta = D0 + D1 + D2,  D0 = E[.; J = 0] in [0, Chernoff],  D2 = E[.; J >= 2] in [0, C(n, 2) p^2],
    D1 = E[.; J = 1] = int H(eps - y) dmu(y),  H(s) = n E_{P_1}[(1 - e^{s - l(X)})_+; X > x_b],

mu the law of the other n - 1 steps' loss under nu^{(x) (n-1)}, nu = P_1 restricted to (-inf, x_b] (mass 1 - p).
For s > l(x_b): H(s) = n [(1 - q - e^s) Phibar(x*) + q Phibar(x* - mu)], x* = l^{-1}(s) (e^{-l} dP_1 = dQ).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: the cut x_b is a multiple of this
OJ_DX = 0.25
#: Arb working precision (bits)
OJ_PREC = 128
#: lower end of the Arb integrals in x (the rest is bounded by its mass)
OJ_XLO = -40.0
#: Chernoff parameters tried for the body's tail mass and for D0 (any positive value is valid)
OJ_THETAS = tuple(5.0 * 1.25 ** k for k in range(25))
#: ... for D0 (session 17: up to ~2.6e6; where eps is ~20 body sd the best s is ~eps / Var, 1e4-1e5)
OJ_THETAS_D0 = tuple(5.0 * 1.25 ** k for k in range(60))
#: Taylor radii tried, as fractions of s0 - l(x_b) (any below 1 is valid; the least bound is used)
OJ_R_FRACS = (0.75, 0.5, 0.35, 0.25)
#: session 17: the order-4 Taylor term and the J = 2 term's bound (J6), with cuts chosen by C(n, 3) p^3; False: the
#: session-16 bracket (order 3, J >= 2 by C(n, 2) p^2, cuts by C(n, 2) p^2) -- for before/after benchmarks
OJ_TWOJUMP = True
#: the slabs r 2^i of J9 (the body's mass beyond the Taylor radius weighted by H at the slab's far end)
OJ_SLABS = 6
#: the J = 2 term's panels in x (width, count from x_b) and the body's spreads tried for its y_max (section 9, J6)
OJ_D2_DX = 0.05
OJ_D2_PANELS = 100
OJ_D2_KS = (6.0, 10.0, 16.0)
#: the largest q and mu where the path is tried (a filter: floats)
OJ_Q_MAX = 1e-4
OJ_MU_MAX = 4.0
#: ... and at least this many steps (with few steps the few-participation sources answer as narrow, sooner: sigma
#: 0.3188, q 2.32e-6, T 75, delta 1.9e-8 -- the path's 1.1e-4 bracket cost 70-200 ms before the same final bracket)
OJ_N_MIN = 1000


def _arb():
    import flint

    return flint


class OneJump:
    """The enclosure of docs/certified.md section 9 for one group (q, sigma, n) and one cut x_b."""

    def __init__(self, q: float, sigma: float, n: int, x_b: float, prec: int = OJ_PREC) -> None:
        fl = _arb()
        self.fl = fl
        self.prec = prec
        arb = fl.arb
        old = fl.ctx.prec
        fl.ctx.prec = prec
        try:
            self.q = arb(q)
            self.mu = 1 / arb(sigma)  # (the exact 1/sigma of the double sigma, as a ball)
            self.n = int(n)
            self.N = int(n) - 1
            self.xb = arb(x_b)
            self.x_b = float(x_b)
            self.half = self.mu * self.mu / 2
            self.s2p = (2 * arb.pi()).sqrt()
            self.p = self._p1_tail(self.xb)
            self.nu0 = 1 - self.p
            self.lxb = self._l(self.xb)
            self._moments()
            self._gcut_memo: dict[float, Any] = {}
        finally:
            fl.ctx.prec = old

    # ------------------------------------------------------------------ one step
    def _phibar(self, x):
        return (x / self.fl.arb(2).sqrt()).erfc() / 2

    def _p1_tail(self, x):
        """P_1(X > x) = (1 - q) Phibar(x) + q Phibar(x - mu)."""
        return (1 - self.q) * self._phibar(x) + self.q * self._phibar(x - self.mu)

    def _l(self, x):
        return (1 - self.q + self.q * (self.mu * x - self.half).exp()).log()

    def _integral(self, f, a: float, b: float):
        """acb.integral of f over [a, b] (f returns acb; analytic flag honoured by its log)."""
        fl = self.fl
        v = fl.acb.integral(f, a, b, rel_tol=fl.arb(2) ** -64)
        if not v.real.is_finite():
            raise ArithmeticError("one-jump path: an Arb integral did not converge")
        return v.real

    def _moments(self) -> None:
        """Per-step I_k = int_{-inf}^{x_b} (l - a)^k dP_1 (k = 1, 2, 4) about a float a, then the body's moments
        about a float m (section 9: Minkowski for the central 4th moment, the iid identity for the sum's)."""
        fl = self.fl
        arb, acb = fl.arb, fl.acb
        q, mu, half, s2p = acb(self.q), acb(self.mu), acb(self.half), acb(self.s2p)
        # a float centre of one step's loss under nu (only a centre: every moment is taken about it exactly)
        qf, muf = float(self.q.mid()), float(self.mu.mid())
        xs = np.linspace(OJ_XLO, self.x_b, 8001)
        v = muf * xs - 0.5 * muf * muf
        lx = np.log1p(qf * np.expm1(v))
        w = ((1 - qf) * np.exp(-0.5 * xs * xs) + qf * np.exp(-0.5 * (xs - muf) ** 2)) / math.sqrt(2 * math.pi)
        af = float(np.sum(lx * w) / np.sum(w))
        if not math.isfinite(af):
            af = -qf
        self.a = arb(af)
        a = acb(af)

        def integrand(k: int):
            def F(x, analytic):
                u = q * ((mu * x - half).exp() - 1)
                lx_ = (1 + u).log(analytic=analytic)
                dens = ((1 - q) * (-x * x / 2).exp() + q * (-(x - mu) * (x - mu) / 2).exp()) / s2p
                return (lx_ - a) ** k * dens
            return F

        # x < OJ_XLO: l in (log(1 - q), l(OJ_XLO)], so |l - a| <= B there, and the mass is P_1(X < OJ_XLO)
        xlo = arb(OJ_XLO)
        B = max(abs(float((1 - self.q).log().lower()) - af), abs(float(self._l(xlo).upper()) - af)) * 1.01 + 1e-300
        mass_lo = (1 - self.q) * self._phibar(-xlo) + self.q * self._phibar(-xlo + self.mu)  # P_1(X < OJ_XLO)
        I = {}
        for k in (1, 2, 3, 4, 6):
            core = self._integral(integrand(k), OJ_XLO, self.x_b)
            rad = arb(B) ** k * mass_lo
            I[k] = core + arb(0, rad.upper())
        nu0 = self.nu0
        d1 = I[1] / nu0
        m2 = I[2] / nu0
        m4 = I[4] / nu0
        c2 = m2 - d1 * d1
        if c2.lower() < 0:  # (a variance: clipped below at 0)
            c2 = arb(c2.upper() / 2, c2.upper() / 2)
        c4 = (m4.root(4) + abs(d1)) ** 4  # Minkowski: upper bound on E(Y - EY)^4
        # the exact central third moment E(Y - EY)^3 = m3 - 3 d1 m2 + 2 d1^3 (raw moments about a)
        c3 = I[3] / nu0 - 3 * d1 * m2 + 2 * d1 ** 3
        N = arb(self.N)
        ES = N * (self.a + d1)
        VS = N * c2
        E4 = N * c4 + 3 * N * (N - 1) * c2 * c2
        self.m = float(ES.mid())
        em = ES - arb(self.m)
        self.mu0 = nu0 ** self.N
        mu0 = self.mu0
        self.mom1 = mu0 * em
        self.mom2 = mu0 * (VS + em * em)
        M4 = (E4.root(4) + abs(em)) ** 4
        self.mom4 = mu0 * M4.upper()
        self.mom3abs = mu0 * M4.upper() ** (arb(3) / 4)
        # E(S - m)^3 = N c3 + 3 em N c2 + em^3 (iid: the sum's third cumulant is N c3), exactly
        self.mom3 = mu0 * (N * c3 + 3 * em * VS + em ** 3)
        # sixth: E(sum Y)^6 = N c6 + 15 N(N-1) c4 c2 + 10 N(N-1) c3^2 + 15 N(N-1)(N-2) c2^3 (iid, centred), with
        # c3^2 <= c2 c4 (Cauchy-Schwarz) and c6 <= ((I_6 / nu0)^{1/6} + |d1|)^6 (Minkowski)
        c6 = ((I[6] / nu0).root(6) + abs(d1)) ** 6
        E6 = N * c6 + 25 * N * (N - 1) * c4 * c2 + 15 * N * (N - 1) * (N - 2) * c2 ** 3
        M6 = (E6.upper().root(6) + abs(em)) ** 6
        self.mom6 = mu0 * M6.upper()
        self.sd = math.sqrt(max(float(VS.mid()), 0.0))
        # session 17 (docs/certified_twojump.md, J8): the exact moments of the body about m up to the 8th, from the
        # per-step raw moments about a (m_k = I_k / nu0, k <= 8) through cumulants: kappa_n = m_n - sum_{k=1}^{n-1}
        # C(n-1, k-1) kappa_k m_{n-k} (shift-invariant for n >= 2), the sum's cumulants N kappa_n, its central moments
        # mu_n = sum_{k=2}^{n} C(n-1, k-1) K_k mu_{n-k} (mu_0 = 1, mu_1 = 0), then E(S - m)^n = sum_i C(n, i) mu_i em^(n-i)
        if OJ_TWOJUMP:
            for k in (5, 7, 8):
                core = self._integral(integrand(k), OJ_XLO, self.x_b)
                I[k] = core + arb(0, (arb(B) ** k * mass_lo).upper())
            mr = [arb(1)] + [I[k] / nu0 for k in range(1, 9)]
            kap = [arb(0)] * 9
            for nn in range(1, 9):
                v = mr[nn]
                for k in range(1, nn):
                    v -= math.comb(nn - 1, k - 1) * kap[k] * mr[nn - k]
                kap[nn] = v
            K = [arb(0), arb(0)] + [N * kap[k] for k in range(2, 9)]
            mc = [arb(1), arb(0)] + [arb(0)] * 7
            for nn in range(2, 9):
                v = arb(0)
                for k in range(2, nn + 1):
                    v += math.comb(nn - 1, k - 1) * K[k] * mc[nn - k]
                mc[nn] = v
            ex = [mu0 * sum((math.comb(nn, i) * mc[i] * em ** (nn - i) for i in range(nn + 1)), arb(0))
                  for nn in range(9)]
            self.mom_ex = ex
            # the even ones are >= 0: their upper ends are the bounds used (and the smaller of the two sixths)
            self.mom8 = arb(ex[8].upper())
            if ex[6].upper() < self.mom6.upper():
                self.mom6 = arb(ex[6].upper())
            if ex[4].upper() < self.mom4.upper():
                self.mom4 = arb(ex[4].upper())
                self.mom3abs = mu0 * (self.mom4 / mu0).upper() ** (arb(3) / 4)

    def log_gcut(self, a: float):
        """log G_cut(a) = log int_{-inf}^{x_b} phi(x) (1 + u(x))^a dx (an Arb ball)."""
        got = self._gcut_memo.get(a)
        if got is not None:
            return got
        fl = self.fl
        arb, acb = fl.arb, fl.acb
        old = fl.ctx.prec
        fl.ctx.prec = self.prec
        try:
            q, mu, half, s2p, aa = acb(self.q), acb(self.mu), acb(self.half), acb(self.s2p), acb(a)

            def F(x, analytic):
                u = q * ((mu * x - half).exp() - 1)
                return (aa * (1 + u).log(analytic=analytic) - x * x / 2).exp() / s2p

            core = self._integral(F, OJ_XLO, self.x_b)
            # x < OJ_XLO: 1 - q <= 1 + u <= 1, so (1 + u)^a <= max(1, (1 - q)^a); mass Phi(OJ_XLO)
            fac = arb(1) if a >= 0 else (1 - self.q) ** arb(a)
            tail = fac * self._phibar(-arb(OJ_XLO))
            g = core + arb(0, tail.upper())
            if not (g.lower() > 0):
                raise ArithmeticError("one-jump path: G_cut not enclosed")
            v = g.log()
        finally:
            fl.ctx.prec = old
        self._gcut_memo[a] = v
        return v

    # ------------------------------------------------------------------ the J = 1 term's H
    def _H_series(self, s, length: int):
        """Taylor coefficients of H at the ball s (arb_series; coefficient k encloses H^(k)(xi)/k! for every
        xi in s).  Needs s > l(x_b) (then x* > x_b)."""
        fl = self.fl
        S = fl.arb_series([s, 1], prec=length)
        q, mu = self.q, self.mu
        es = S.exp()
        xs = ((es - 1 + q) / q).log()
        xs = (xs + self.half) / mu
        sq2 = fl.arb(2).sqrt()
        phib = (xs / sq2).erfc() / 2
        phib2 = ((xs - mu) / sq2).erfc() / 2
        H = ((1 - q) - es) * phib + q * phib2
        return [H.coeffs()[k] * self.n if k < len(H.coeffs()) else fl.arb(0) for k in range(length)]

    def _mk(self, k: int, lev, w: float, a: float, b: float):
        """An upper bound on sup |H^(k)| over [a, b] (k = 3, 4): the largest over the cells [i w, (i + 1) w] (an
        absolute lattice, so the cells are reused across eps) that cover it, one cell more each side (float
        rounding).  Each cell's bound is the k-th Taylor coefficient of H over the cell as a ball (times k!)."""
        fl = self.fl
        arb = fl.arb
        memo = self.__dict__.setdefault("_mk_memo", {})
        i0, i1 = math.floor(a / w) - 1, math.floor(b / w) + 1
        best = 0.0
        for i in range(i0, i1 + 1):
            key = (lev, i)
            v = memo.get(key)
            if v is None:
                # (k = 3 and 4 from one series)
                ball = arb((i + 0.5) * w, 0.5 * w * (1.0 + 1e-9))
                if not ball.lower() > self.lxb.upper():
                    raise ArithmeticError("one-jump path: a remainder cell reaches l(x_b)")
                ser = self._H_series(ball, 7)
                v = []
                for kk in (3, 4, 5, 6):
                    b_ = float((abs(ser[kk]) * math.factorial(kk)).upper())
                    if not math.isfinite(b_):
                        raise ArithmeticError("one-jump path: a derivative of H not enclosed")
                    v.append(math.nextafter(b_, math.inf))
                memo[key] = v
            best = max(best, v[k - 3])
        return arb(best)

    @staticmethod
    def _least(a, b):
        """The one of two upper bounds with the smaller upper end."""
        return a if a.upper() <= b.upper() else b

    def _pick(self, f, thetas=None) -> float:
        """The t of thetas (OJ_THETAS) with the least float value f(t, log G_cut) (a guide only)."""
        from .certified import _log_g_cut_float

        qf, muf = float(self.q.mid()), float(self.mu.mid())

        def lg(a: float) -> float:
            return _log_g_cut_float(qf, muf, a, self.x_b)

        thetas = OJ_THETAS if thetas is None else thetas
        best, bt = math.inf, thetas[0]
        for t in thetas:
            try:
                v = f(t, lg)
            except (ValueError, OverflowError):
                continue
            if v < best:
                best, bt = v, t
        return bt

    def _h1(self, t):
        """h1(t) = E_{P_1}[(1 - e^{t - l(X)})_+; X > x_b] (= H(t) / n) at a ball t, as a ball containing it: the closed
        form above l(x_b), p - e^t Phibar(x_b) below it (the payoff is positive on all of X > x_b there), and
        [0, p] where t straddles l(x_b)."""
        if t.lower() > self.lxb.upper():
            return self._H_series(t, 1)[0] / self.n
        if t.upper() < self.lxb.lower():
            pb = self.__dict__.get("_phibar_xb")
            if pb is None:
                pb = self._phibar_xb = self._phibar(self.xb)
            return self.p - t.exp() * pb
        return self.p * self.fl.arb(0.5, 0.5)

    def _d2_panels(self):
        """x_b = x_0 < x_1 < ... < x_K (OJ_D2_DX apart), l(x_i), the panel masses P_1(x_{i-1} < X <= x_i) and the
        rest P_1(X > x_K) (Arb balls)."""
        got = self.__dict__.get("_panels")
        if got is not None:
            return got
        arb = self.fl.arb
        xs = [self.xb + arb(OJ_D2_DX) * i for i in range(OJ_D2_PANELS + 1)]
        tails = [self._p1_tail(x) for x in xs]
        ls = [self._l(x) for x in xs]
        masses = [tails[i - 1] - tails[i] for i in range(1, len(xs))]
        self._panels = (ls, masses, tails[-1])
        return self._panels

    def _h2_upper(self, s: float):
        """An upper bound on H2(s) = C(n, 2) E[(1 - e^{s - l(X_1) - l(X_2)})_+; X_1, X_2 > x_b] (J6): by Fubini
        H2(s) = C(n, 2) int_{x > x_b} h1(s - l(x)) dP_1(x), the integrand non-decreasing in x (h1 is non-increasing,
        l increasing), so each panel is at most its right end's value times its mass, and the rest beyond x_K at
        most p P_1(X > x_K) (h1 <= p).  Memoised on the float s (the caller rounds s down to a lattice); h1 at the
        lattice point below its argument (memoised too)."""
        memo = self.__dict__.setdefault("_h2_memo", {})
        v = memo.get(s)
        if v is not None:
            return v
        arb = self.fl.arb
        ls, masses, rest = self._d2_panels()
        sb = arb(s)
        tot = self.p * rest
        hm = self.__dict__.setdefault("_h1_memo", {})
        w = max(self.sd, 1e-9) / 8.0
        for i, mass in enumerate(masses):
            # h1 at a lattice point t_k <= t (k w, one step below the float floor: h1 non-increasing, so
            # h1(t) <= h1(t_k)); memoised across s
            t = sb - ls[i + 1]
            k = math.floor(float(t.lower()) / w) - 1
            h = hm.get(k)
            if h is None:
                h = hm[k] = max(0.0, float(self._h1(arb(k * w)).upper()))
            tot += arb(h) * mass
        v = arb(self.n) * arb(self.n - 1) / 2 * arb(tot.upper())
        memo[s] = v
        return v

    def _d2_upper(self, eps: float):
        """An upper bound on D2 = E[phi; J = 2] (J6): D2 = int H2(eps - y) dmu_2(y), mu_2 the law of the other n - 2
        steps' loss under nu^{(x)(n-2)} (mass <= 1); H2 is non-increasing, so with any y_max,
        D2 <= H2(eps - y_max) + C(n, 2) p^2 mu_2(y > y_max), and mu_2(y > y_max) <= e^{-t y_max} G_b(1 + t)^{n-2}
        (Chernoff, any t > 0).  y_max = the body's float mean plus k sd (k from OJ_D2_KS, the least bound used);
        eps - y_max rounded down to a lattice of sd / 8 (H2 non-increasing: the bound only grows)."""
        arb = self.fl.arb
        N2 = self.n - 2
        m2 = self.m * N2 / max(self.N, 1)
        w = max(self.sd, 1e-9) / 8.0
        best = None
        for k in OJ_D2_KS:
            ym = m2 + k * self.sd
            s = math.floor((eps - ym) / w) * w
            ymb = arb(eps) - arb(s)  # the y_max the lattice point stands for (>= m2 + k sd)
            t = self._pick(lambda t, lg: N2 * lg(1.0 + t) - t * float(ymb.mid()))
            ch = (N2 * self.log_gcut(1.0 + t) - arb(t) * ymb).exp()
            v = self._h2_upper(s) + arb(self.n) * arb(self.n - 1) / 2 * self.p * self.p * arb(ch.upper())
            if best is None or v.upper() < best.upper():
                best = v
        return None if best is None else arb(best.upper())

    def _mass_above(self, R: float):
        """An upper bound on mu(z > R) (z = y - m, mu the body's law): the least of Chernoff
        e^{-t (m + R)} G_b(1 + t)^N (t by the float log G_b) and, where the exact moments are there (J8), Markov on
        z^8 and z^6.  Memoised on R."""
        memo = self.__dict__.setdefault("_mass_memo", {})
        v = memo.get(R)
        if v is not None:
            return v
        arb = self.fl.arb
        m_, N_ = self.m, self.N
        t = self._pick(lambda t, lg: N_ * lg(1.0 + t) - t * (m_ + R))
        v = (self.N * self.log_gcut(1.0 + t) - arb(t) * (arb(self.m) + arb(R))).exp()
        if getattr(self, "mom_ex", None) is not None:
            v = self._least(v, self._least(self.mom8 / arb(R) ** 8, self.mom6 / arb(R) ** 6))
        v = arb(v.upper())
        memo[R] = v
        return v

    def _g_above(self, s0, r: float):
        """An upper bound on int_{z > r} H(s0 - z) dmu(z) (J9): H is non-increasing, so on the slab
        R_i < z <= R_{i+1} (R_i = r 2^i) H(s0 - z) <= H(s0 - R_{i+1}) = n h1(s0 - R_{i+1}), and beyond R_L H <= n p:
        sum_i n h1(s0 - R_{i+1}) mu(z > R_i) + n p mu(z > R_L).  Where that is not below n p mu(z > r), the latter."""
        arb = self.fl.arb
        crude = self.n * self.p * self._mass_above(r)
        tot = arb(0)
        R = r
        for _ in range(OJ_SLABS):
            h = self._h1(s0 - arb(2.0 * R))
            tot += self.n * arb(max(0.0, float(h.upper()))) * self._mass_above(R)
            R *= 2.0
        tot += self.n * self.p * self._mass_above(R)
        return tot if tot.upper() < crude.upper() else crude

    def delta_bounds(self, eps: float) -> tuple[float, float, dict]:
        """(lower, upper) on REMOVE's delta(eps), rounded outward to doubles, and the error parts."""
        fl = self.fl
        arb = fl.arb
        old = fl.ctx.prec
        fl.ctx.prec = self.prec
        try:
            return self._delta_bounds(eps)
        finally:
            fl.ctx.prec = old

    def _delta_bounds(self, eps: float):
        fl = self.fl
        arb = fl.arb
        e = arb(eps)
        s0 = e - arb(self.m)
        # the Taylor radius: the ball [s0 - r, s0 + r] must stay above l(x_b) (where H is smooth)
        gap = float((s0 - self.lxb).lower())
        if not gap > 0.0:
            raise ArithmeticError("one-jump path: eps too close to l(x_b)")
        c = self._H_series(s0, 3)
        H0, H1, H2 = c[0], c[1], c[2] * 2  # H, H', H'' at s0
        # g(y) = H(eps - y): g(m) = H0, g'(m) = -H1, g''(m) = H2
        T2 = H0 * self.mu0 - H1 * self.mom1 + H2 * self.mom2 / 2
        c = self._H_series(s0, 6)
        H3 = c[3] * 6
        Hk = [c[k] * math.factorial(k) for k in range(6)]
        ex = getattr(self, "mom_ex", None)
        # order 6 (J8): the exact moments mu_1..mu_5, remainder by sup |H^(6)| z^6 / 720
        T5 = None if ex is None else sum(((-1) ** k * Hk[k] * ex[k] / math.factorial(k) for k in range(6)), arb(0))
        # order 4 (section 9, J4'): the exact third moment's term, remainder by sup |H^(4)| z^4 / 24
        T3 = T2 - H3 * self.mom3 / 6
        s_lo, s_hi = float(s0.lower()), float(s0.upper())
        r1 = max(8.0 * self.sd, 1e-12)
        m_, N_ = self.m, self.N
        # the Taylor radius r: any r < s0 - l(x_b) gives a bound (a larger r, a larger sup |H'''|, a smaller tail):
        # the least of a few (and of the two orders) is used
        best = None
        for frac in OJ_R_FRACS:
            r = frac * gap
            # remainder on |z| <= r in shells r_1 < r_2 < ... < r_J = r (doubling from 8 sd): on |z| <= r_1 by
            # M3(r_1) int |z|^3 / 6, on r_{j-1} < |z| <= r_j by M3(r_j) mom4 / (6 r_{j-1}) (|z|^3 <= z^4 / r_{j-1});
            # order 4: M4(r_1) mom4 / 24, then M4(r_j) min(mom4, mom6 / r_{j-1}^2) / 24
            rr1 = min(r, r1)
            radii = []
            j = 0
            while rr1 * 2.0 ** j < r:
                radii.append((j, rr1 * 2.0 ** j))
                j += 1
            radii.append((j, r))
            rem = arb(0)
            rem4 = arb(0)
            rem6 = arb(0)
            prev = None
            for lev, rj in radii:
                M3 = self._mk(3, (rr1, lev), rr1 * 2.0 ** lev / 16.0, s_lo - rj, s_hi + rj)
                M4 = self._mk(4, (rr1, lev), rr1 * 2.0 ** lev / 16.0, s_lo - rj, s_hi + rj)
                if prev is None:
                    rem += M3 * self.mom3abs / 6
                    rem4 += M4 * self.mom4 / 24
                    if T5 is not None:
                        rem6 += self._mk(6, (rr1, lev), rr1 * 2.0 ** lev / 16.0, s_lo - rj, s_hi + rj) * self.mom6 / 720
                else:  # |z|^3 <= z^4 / r_{j-1} and <= z^6 / r_{j-1}^3 there: the smaller
                    rem += M3 * self._least(self.mom4 / arb(prev), self.mom6 / arb(prev) ** 3) / 6
                    rem4 += M4 * self._least(self.mom4, self.mom6 / arb(prev) ** 2) / 24
                    if T5 is not None:  # z^6 <= z^8 / r_{j-1}^2 on the shell
                        rem6 += (self._mk(6, (rr1, lev), rr1 * 2.0 ** lev / 16.0, s_lo - rj, s_hi + rj)
                                 * self._least(self.mom6, self.mom8 / arb(prev) ** 2) / 720)
                prev = rj
            # |z| > r: |g - T2| <= |g| + |H0| + |H1| |z| + |H2| z^2 / 2 with |g| <= n p (z > r) and |g| <= H0
            # (z < -r: H is non-increasing); the constant part by Chernoff on the body (mu(z > r) <=
            # e^{-t (m + r)} G_cut(1 + t)^N, mu(z < -r) <= e^{t (m - r)} G_cut(1 - t)^N), the rest by
            # |z|^k <= z^4 / r^{4-k} there (t chosen by the float log G_cut; any t > 0 is valid); order 4 adds
            # |H3| |z|^3 / 6
            rr = arb(r)
            t_up = self._pick(lambda t, lg: N_ * lg(1.0 + t) - t * (m_ + r))
            t_dn = self._pick(lambda t, lg: N_ * lg(1.0 - t) + t * (m_ - r))
            up = (self.N * self.log_gcut(1.0 + t_up) - arb(t_up) * (arb(self.m) + rr)).exp()
            dn = (self.N * self.log_gcut(1.0 - t_dn) + arb(t_dn) * (arb(self.m) - rr)).exp()
            if getattr(self, "mom_ex", None) is not None:
                # J8: also Markov on z^8 and z^6 (mu(|z| > r) <= mu_8 / r^8, mu_6 / r^6): the least bound
                mk = self._least(self.mom8 / rr ** 8, self.mom6 / rr ** 6)
                up, dn = self._least(up, mk), self._least(dn, mk)
            # int_{z > r} |g| <= n p mu(z > r), or the slabs of J9 (session 17) where smaller
            gab = self._g_above(s0, r) if OJ_TWOJUMP else self.n * self.p * arb(up.upper())
            if OJ_TWOJUMP:
                up = self._least(up, self._mass_above(r))
            const = gab + abs(H0) * arb(up.upper()) + 2 * abs(H0) * arb(dn.upper())
            tail = (const
                    + abs(H1) * self._least(self.mom4 / rr ** 3, self.mom6 / rr ** 5)
                    + abs(H2) * self._least(self.mom4 / rr ** 2, self.mom6 / rr ** 4) / 2)
            tail4 = tail + abs(H3) * self._least(self.mom4 / rr, self.mom6 / rr ** 3) / 6
            cands = [(T2, rem, tail, 3), (T3, rem4, tail4, 4)][:2 if OJ_TWOJUMP else 1]
            if T5 is not None:
                # beyond r: |H_k| |z|^k / k! for k = 1..5 by z^6 / r^(6-k) or z^8 / r^(8-k)
                tail6 = (const
                         + sum((abs(Hk[k]) * self._least(self.mom6 / rr ** (6 - k), self.mom8 / rr ** (8 - k))
                                / math.factorial(k) for k in range(1, 6)), arb(0)))
                cands.append((T5, rem6, tail6, 6))
            for T_, rm_, tl_, od in cands:
                err = rm_ + tl_
                if best is None or err.upper() < best[0].upper():
                    best = (err, rm_, tl_, r, T_, od)
        err, rem, tail, r, T2, order = best
        # D0 (no step beyond x_b): Chernoff on the payoff, n log G_cut(s + 1) + s log s - (s + 1) log(s + 1) - s eps
        n_ = self.n
        def d0_at(thetas):
            sv = self._pick(lambda t, lg: n_ * lg(1.0 + t) + t * math.log(t) - (t + 1.0) * math.log1p(t) - t * eps,
                            thetas)
            s_ = arb(sv)
            v = (self.n * self.log_gcut(1.0 + sv) + s_ * s_.log() - (s_ + 1) * (s_ + 1).log() - s_ * e).exp()
            return arb(v.upper())

        d0 = None
        if OJ_TWOJUMP:
            try:  # (the Arb integral of G_b at a very large power may not converge: then the usual range)
                d0 = d0_at(OJ_THETAS_D0)
            except ArithmeticError:
                d0 = None
        if d0 is None:
            d0 = d0_at(None)
        # J >= 2: either C(n, 2) p^2 (J1), or the J = 2 term's upper bound plus C(n, 3) p^3 (J6)
        d2 = arb(self.n) * arb(self.n - 1) / 2 * self.p * self.p
        d3 = arb(self.n) * arb(self.n - 1) * arb(self.n - 2) / 6 * self.p ** 3
        d2j = self._d2_upper(eps) if OJ_TWOJUMP else None
        if d2j is not None and (d2j + d3).upper() < d2.upper():
            d2 = d2j + d3
        lo = T2 - err
        hi = T2 + err + d0 + d2
        lo_f = _down(lo)
        hi_f = _up(hi)
        info = {"T2": float(T2.mid()), "rem": float(rem.upper()), "tail": float(tail.upper()),
                "D0": float(d0.upper()), "D2": float(d2.upper()), "r": r,
                "order": order}
        return max(0.0, lo_f), min(1.0, hi_f), info


def _down(x) -> float:
    v = float(x.lower())
    return math.nextafter(v, -math.inf) if math.isfinite(v) else 0.0


def _up(x) -> float:
    v = float(x.upper())
    return math.nextafter(v, math.inf) if math.isfinite(v) else math.inf


# ---------------------------------------------------------------------------------------------- the eps path
def _float_l(q: float, mu: float, x: float) -> float:
    return math.log1p(q * math.expm1(mu * x - 0.5 * mu * mu))


def _float_H(q: float, mu: float, n: int, s: float) -> float:
    """H(s) in floats (a guide only): n [(1 - q - e^s) Phibar(x*) + q Phibar(x* - mu)] for s > log(1 - q)."""
    from scipy.special import ndtr

    t = math.expm1(s) + q
    if not t > 0.0:
        return float(n)
    xs = (math.log(t / q) + 0.5 * mu * mu) / mu
    return n * float((1.0 - q - math.exp(s)) * ndtr(-xs) + q * ndtr(mu - xs))


def float_eps(q: float, mu: float, n: int, delta: float) -> float | None:
    """eps with H(eps) = delta (the J = 1 term with the other steps' loss at 0): a guide for x_b and the
    search (bisection in floats on log H, which decreases)."""
    lo, hi = 1e-9, 50.0
    if not (_float_H(q, mu, n, lo) > delta > _float_H(q, mu, n, hi)):
        return None
    for _ in range(80):
        mid = math.sqrt(lo * hi) if hi / lo > 4.0 else 0.5 * (lo + hi)
        if _float_H(q, mu, n, mid) > delta:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def candidate(groups_sg: list, mu2: float) -> bool:
    """The cheap filter: one Poisson-subsampled Gaussian group (no Gaussian steps), q <= OJ_Q_MAX,
    mu <= OJ_MU_MAX, at least OJ_N_MIN steps."""
    if mu2 != 0.0 or len(groups_sg) != 1:
        return False
    g = groups_sg[0]
    return g.q <= OJ_Q_MAX and g.mu <= OJ_MU_MAX and g.n >= OJ_N_MIN


#: the J >= 3 term's share of delta the cut x_b is chosen for (C(n, 3) p^3 <= OJ_D2 delta, p at the cut; the J = 2
#: term is bounded by _d2_upper, or by C(n, 2) p^2 where that is less)
OJ_D2 = 1e-5
#: the path is tried where the other steps' loss has a standard deviation below this fraction of eps
OJ_SD_EPS = 0.05
#: ... and where l(x_b) at the first cut is at least this many of those standard deviations below eps
OJ_GAP_SD = 10.0
#: cuts tried at most (choose)
OJ_CUTS = 4
#: choose's first cut answers where its delta bracket's relative width is below this fraction of
#: ONEJUMP_SETTLE_GUIDE |d log H / d eps| (the delta width a ONEJUMP_SETTLE-wide eps bracket allows)
OJ_FIRST_OK = 0.3
#: methods/certified.py's ONEJUMP_SETTLE (a guide here)
ONEJUMP_SETTLE_GUIDE = 9e-5


def choose(q: float, sigma: float, n: int, delta: float, e: float, deadline: float, clock) -> tuple | None:
    """(OneJump, its bounds at e) of the cut giving the narrowest delta bracket at the guess e among at most OJ_CUTS
    cuts (floats choose; every cut is valid).  Session 17 (OJ_TWOJUMP): first x2, the smallest multiple of OJ_DX with
    C(n, 2) p^2 <= OJ_D2 delta (session 16's first cut), kept at once where its delta bracket is within OJ_FIRST_OK
    of what a ONEJUMP_SETTLE-wide eps bracket allows (|d log H / d eps| from the floats); else the cuts below it down
    to x3 (C(n, 3) p^3 <= OJ_D2 delta: the J = 2 term bounded, J6) while they narrow, then the ones above x2.
    Session 16: x2, x2 + OJ_DX, ... while they narrow.  Every cut needs l(x_b) <= e - OJ_GAP_SD sd."""
    from scipy.special import log_ndtr

    mu = 1.0 / sigma
    lt = math.log(delta)
    x2 = x3 = None
    for x in np.arange(2.0, 40.0, OJ_DX):
        lp = float(np.logaddexp(math.log1p(-q) + float(log_ndtr(-x)), math.log(q) + float(log_ndtr(mu - x))))
        if x3 is None and math.log(n * (n - 1.0) * (n - 2.0) / 6.0) + 3.0 * lp <= lt + math.log(OJ_D2):
            x3 = float(x)
        if math.log(0.5 * n * (n - 1.0)) + 2.0 * lp <= lt + math.log(OJ_D2):
            x2 = float(x)
            break
    if not OJ_TWOJUMP:
        x3 = x2
    # the other steps' spread against eps (the Taylor remainder grows like (slope sd)^3) and the room between l(x_b)
    # and eps (the Taylor radius): filters
    sd = math.sqrt(n * q * q * math.expm1(min(mu * mu, 700.0)))
    if x3 is None or not sd <= OJ_SD_EPS * e or not _float_l(q, mu, x3) <= e - OJ_GAP_SD * sd:
        return None
    if x2 is None:
        x2 = x3 + OJ_CUTS * OJ_DX
    try:
        h0, h1 = _float_H(q, mu, n, e * (1 - 1e-3)), _float_H(q, mu, n, e * (1 + 1e-3))
        target = OJ_FIRST_OK * ONEJUMP_SETTLE_GUIDE * math.log(h0 / h1) / 2e-3
    except (ValueError, ZeroDivisionError, OverflowError):
        target = 0.0
    best = None
    tried = 0

    def one(xb: float):
        nonlocal best, tried
        tried += 1
        try:
            oj = OneJump(q, sigma, n, xb)
            lo, hi, info = oj.delta_bounds(e)
        except (ArithmeticError, ValueError, ZeroDivisionError):
            return None
        if not (hi > 0.0):
            return None
        w = (hi - lo) / hi
        if best is None or w < best[0]:
            best = (w, oj, lo, hi, info)
        return w

    def usable(xb: float) -> bool:
        return _float_l(q, mu, xb) <= e - OJ_GAP_SD * sd and clock() <= deadline and tried < OJ_CUTS

    first = x2 if usable(x2) else x3
    w0 = one(first)
    if not (w0 is not None and w0 <= target):
        down = []
        x = first - OJ_DX
        while x >= x3 - 1e-9 and usable(x):
            w = one(x)
            down.append(w)
            if w is None or (len(down) > 1 and down[-2] is not None and w > down[-2]) or w > (w0 or math.inf):
                break
            if w <= target:
                break
            x -= OJ_DX
        if best is None or best[0] > target:
            x, wp = first + OJ_DX, w0
            while usable(x) and not (best is not None and best[0] <= target):
                w = one(x)
                if w is None or (wp is not None and w > wp):
                    break
                wp, x = w, x + OJ_DX
    return None if best is None else best[1:]
