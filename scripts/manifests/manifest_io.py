"""What both derive_*_manifest.py scripts share: writing a {name: shape} dict as an approved manifest."""

import math
import sys


def write_manifest(tensors: dict) -> int:
    """Writes 'name<TAB>[shape]' lines in byte order to stdout and a count/parameter summary to stderr."""
    names = sorted(tensors, key=lambda n: n.encode("utf-8"))
    for name in names:
        sys.stdout.write(f"{name}\t[{', '.join(str(d) for d in tensors[name])}]\n")
    total = sum(math.prod(shape) for shape in tensors.values())
    print(f"{len(names)} tensors, {total:,} parameters, {2 * total:,} bytes in F16", file=sys.stderr)
    return 0
