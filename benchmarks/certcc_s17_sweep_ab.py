"""Session 17 (H-CC): benchmarks/certified_sweep.py with this session's certified-cost changes on (default) or off
(--off: as at the session's start), same process layout, for before / after runs side by side.

    python benchmarks/certcc_s17_sweep_ab.py [--off] [--cpu-settle] [certified_sweep.py's arguments]

--off sets certified_quant.EPS_ABS = 0 (the quantised path's tolerances relative to eps itself, not to
max(eps, 1e-3)) and certify.WIDE_EPS_ABS = 0 (a contour bracket wider than 1e-4 relative is intersected with the
proven one also below eps 1e-3), certify.COND_QUICK_NARROW = COND_QUICK (2^16: the quick conditioned bracket in
_with_fewpart at the corner's gate, not 2^18) and certified.WORK_SETTLE = False (the quantised path's settle decisions by CPU
time); --cpu-settle only the last.
"""

from __future__ import annotations

import runpy
import sys

from ewacct.bounds import certify
from ewacct.methods import certified_quant

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--off" in args:
        args.remove("--off")
        certified_quant.EPS_ABS = 0.0
        certify.WIDE_EPS_ABS = 0.0
        certify.COND_QUICK_NARROW = certify.COND_QUICK
        args.append("--cpu-settle")
    if "--cpu-settle" in args:
        args.remove("--cpu-settle")
        from ewacct.methods import certified

        certified.WORK_SETTLE = False
    sys.argv = ["certified_sweep.py"] + args
    runpy.run_path(__file__.replace("certcc_s17_sweep_ab.py", "certified_sweep.py"), run_name="__main__")
