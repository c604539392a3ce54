"""The one compiled piece: ingest's batch SHA-1 (ingest/_sha1batch.c, linked to OpenSSL's libcrypto).

Optional: where no C compiler or OpenSSL headers are found the build goes on without it and ingest hashes with
hashlib (same ids, slower). Everything else is configured in pyproject.toml.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("editlens.ingest._sha1batch", ["ingest/_sha1batch.c"], libraries=["crypto"], optional=True)])
