# One measured Python run, passed to `python3 -c`: argv is `load-save <in> <out> [external]`
# (onnx.load + onnx.save) or `baseline` (import onnx only). Prints one JSON line like lathe-child.
import json
import os
import re
import sys
import time

import onnx

command = sys.argv[1]
seconds = 0.0
if command == "load-save":
    source, target = sys.argv[2], sys.argv[3]
    external = len(sys.argv) > 4 and sys.argv[4] == "external"
    start = time.perf_counter()
    model = onnx.load(source)
    if external:
        onnx.save(
            model,
            target,
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=os.path.basename(target) + ".data",
            size_threshold=1024,
        )
    else:
        onnx.save(model, target)
    seconds = time.perf_counter() - start
# VmHWM, as lathe-child reads it: ru_maxrss would include the parent's RSS at fork time.
with open("/proc/self/status") as status:
    peak_kb = int(re.search(r"^VmHWM:\s+(\d+) kB$", status.read(), re.M).group(1))
print(json.dumps({"seconds": seconds, "maxRssBytes": peak_kb * 1024}))
