"""One-off (not in CI: ~7 s of CPU) independent check of the session-17 one-large-step bracket at issue 9's family
point sigma 0.586475189364323, q 5.8999563371610826e-08, T 5358296, delta 8.995706244919377e-13 (where the extended D0
range, J8's order 6 and J9's slabs all matter): the float Bromwich reference of tests/test_certct_s16_onejump.py
(D1 at x_b = 8; J >= 2 in [0, C(n, 2) p^2]) on either side of delta at the certified ends [0.02112998862296291,
0.02113066905961172] (bounds.certify._epsilon, this session).

    python benchmarks/certtq_s17_refcheck.py
"""
import sys, time, warnings
sys.path.insert(0, "tests")
from test_certct_s16_onejump import _delta_ref
from scipy.special import ndtr
pts=[((0.586475189364323, 5.8999563371610826e-08, 5358296, 8.995706244919377e-13), (0.02112998862296291, 0.02113066905961172))]
for (s,q,T,d),(lo,hi) in pts:
    xb=8.0
    p=(1-q)*ndtr(-xb)+q*ndtr(1/s-xb); c2=0.5*T*(T-1)*p*p
    t=time.process_time()
    d1=_delta_ref(q,s,T,xb)
    a,b=d1(lo),d1(hi)
    print("C2p2/d %.2e"%(c2/d), "d1(lo)/d-1 %.3e"%(a/d-1), "(d1(lo)+c2)/d-1 %.3e"%((a+c2)/d-1), "d1(hi)/d-1 %.3e"%(b/d-1), "%.1fs"%(time.process_time()-t))
    print("ok", a+c2>=d*(1-2e-7) and b<=d*(1+2e-7))
