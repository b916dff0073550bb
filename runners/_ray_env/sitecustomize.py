"""Put on PYTHONPATH of Ray's worker processes by runners.cluster: `amdsmi` (a zeus dependency)
raises KeyError, not ImportError, on import where libamd_smi.so is missing, and Ray's GPU probe
at `import ray` only tolerates ImportError; marking the module absent turns it into one."""

import sys

try:
    import amdsmi  # noqa: F401
except ImportError:
    pass
except Exception:  # KeyError 'libamd_smi.so' on machines without the ROCm library
    sys.modules["amdsmi"] = None
