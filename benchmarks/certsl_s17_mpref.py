# Session 17 (H-SL): an independent mpmath (30 digits) reference for the certified brackets of benchmarks/certsl_s17_scan.py
"""Independent mpmath reference for delta(eps) of PSG(sigma, q) x T (both directions), written from scratch.
ADD:    P = N(0,1), Q = mixture; loss -log(1 + q(e^{mu t - mu^2/2} - 1)) <= -log(1-q);  M(z) = E_t[(1+u)^{-z}]
REMOVE: P = mixture, Q = N(0,1);  E_P[e^{zL}] = E_{t~N(0,1)}[(1+u)^{z+1}]; restricted to t <= tc for every step:
        delta in [I_cut, I_cut + 1 - (1-p)^T], p = P_mixture(t > tc).
delta = (1/pi) int_0^inf Re[ M(c+iu)^T e^{-(c+iu) eps} / ((c+iu)(c+iu+1)) ] du,  any c > 0."""
import mpmath as mp


def mgf(q, mu, z, direction, tc=None):
    def f(t):
        u = q * mp.expm1(mu * t - mu * mu / 2)
        b = mp.log1p(u)
        w = -z * b if direction == "add" else (z + 1) * b
        return mp.npdf(t) * mp.exp(w)
    hi = mp.inf if tc is None else tc
    pts = [-mp.inf, -8, -4, 0, 4, 8]
    pts = [p for p in pts if p == -mp.inf or p < hi] + [hi]
    return mp.quad(f, pts)


def delta(sigma, q, T, eps, direction, tc=None, c=None, dps=30):
    with mp.workdps(dps):
        q, mu, eps = mp.mpf(q), 1 / mp.mpf(sigma), mp.mpf(eps)
        K = lambda z: T * mp.log(mgf(q, mu, z, direction, tc))  # noqa: E731
        if c is None:
            # the real saddle of K(c) - c eps - log(c(c+1)) (golden search on log c)
            f = lambda lc: mp.re(K(mp.e ** lc)) - mp.e ** lc * eps - mp.log(mp.e ** lc * (mp.e ** lc + 1))  # noqa
            a, b = mp.mpf(0), mp.mpf(20)
            g = (mp.sqrt(5) - 1) / 2
            for _ in range(40):
                x1, x2 = b - g * (b - a), a + g * (b - a)
                if f(x1) < f(x2):
                    b = x2
                else:
                    a = x1
            c = mp.e ** ((a + b) / 2)
        c = mp.mpf(c)
        K2 = mp.diff(lambda x: K(x), c, 2)
        s = 1 / mp.sqrt(K2)  # the integrand's u-scale near u = 0
        g = lambda u: mp.re(mp.exp(K(c + 1j * u) - (c + 1j * u) * eps) / ((c + 1j * u) * (c + 1j * u + 1)))  # noqa
        edges = [0] + [s * k for k in (0.5, 1, 1.5, 2, 3, 4, 5, 6, 8, 10, 12, 15)]
        I = mp.quad(g, edges) / mp.pi
        tail = abs(g(edges[-1])) / abs(g(0))
        res = {"I": I, "c": c, "tail_rel": tail}
        if direction == "remove" and tc is not None:
            p = (1 - q) * mp.ncdf(-tc) + q * mp.ncdf(mu - tc)
            res["cut_mass"] = -mp.expm1(T * mp.log1p(-p))
        return res


if __name__ == "__main__":
    # python benchmarks/certsl_s17_mpref.py SIGMA Q T EPS [EPS ...]: both directions (REMOVE cut at t 9), 30 digits
    import sys
    import time

    s, q, T = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    for e in sys.argv[4:]:
        for d, tc in (("remove", 9), ("add", None)):
            t0 = time.process_time()
            r = delta(s, q, T, e, d, tc=tc, dps=30)
            print(f"eps {e} {d}: delta {mp.nstr(r['I'], 20)} (+ cut mass {mp.nstr(r.get('cut_mass', 0), 3)}), "
                  f"c {mp.nstr(r['c'], 8)}, tail/|g(0)| {mp.nstr(r['tail_rel'], 3)}, {time.process_time() - t0:.0f} s",
                  flush=True)
