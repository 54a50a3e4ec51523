"""Print, as JSON, each file's checksums as computed by the Python running this script.

Usage: python digests.py CHECKSUM_MODULE FILE... -- imports only the checksum module and its
sibling ``legacy_checksum.py``, by path, so any Python 3.10+ can run it without the package's
dependencies. For each file: the current scheme's checksum, the old scheme's checksum as this
Python computed it (sha256 of ast.dump), and every old-scheme checksum the emulation recognises.
"""

import ast
import hashlib
import importlib.util
import json
import os
import sys


def load(name, path):
    """Import the module at ``path`` as ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


module = load("march_checksum", sys.argv[1])
legacy = load("march_legacy", os.path.join(os.path.dirname(sys.argv[1]), "legacy_checksum.py"))
out = {"python": list(sys.version_info[:3]), "files": {}}
for name in sys.argv[2:]:
    with open(name, encoding="utf-8") as handle:
        source = handle.read()
    dumped = ast.dump(ast.parse(source), include_attributes=False)
    out["files"][name] = {
        "checksum": module.checksum(source),
        "ast_dump": hashlib.sha256(dumped.encode("utf-8")).hexdigest(),
        "recognised": sorted(legacy.legacy_checksums(source)),
    }
print(json.dumps(out))
