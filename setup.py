"""The one compiled piece: ingest's batch SHA-1 and plain-shape cutter (ingest/_sha1batch.c, linked to OpenSSL's
libcrypto).

Optional: where no C compiler or OpenSSL headers are found the build goes on without it and ingest hashes with
hashlib and cuts plain files with numpy and Arrow (same ids and rows, slower). Everything else is configured in pyproject.toml.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("editlens.ingest._sha1batch", ["ingest/_sha1batch.c"], libraries=["crypto"], optional=True)])
