"""Session 16 (H-FW): benchmarks/certified_sweep.py with the conditioned bracket's C14 body laws on (default) or off
(--icx-off: C2's laws as before session 16), same process layout, for before / after runs side by side.

    python benchmarks/certfw_s16_sweep_ab.py [--icx-off] [--cond-quick=N] [certified_sweep.py's arguments]
"""

from __future__ import annotations

import runpy
import sys

from ewacct.bounds import fewpart_cond

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--icx-off" in args:
        args.remove("--icx-off")
        fewpart_cond.ICX = False
    for a in list(args):
        if a.startswith("--cond-quick="):  # try a certify.COND_QUICK (H-CT's gate; patch FW-2)
            from ewacct.bounds import certify

            certify.COND_QUICK = int(a.split("=", 1)[1])
            args.remove(a)
    sys.argv = ["certified_sweep.py"] + args
    runpy.run_path(__file__.replace("certfw_s16_sweep_ab.py", "certified_sweep.py"), run_name="__main__")
