/* SHA-1 digests of many byte strings in one call (the ingest's id hashing; issue 3).
 *
 * digests(data, offsets) -> bytes: for i in 0..n-1, the 20-byte SHA-1 of data[offsets[i]:offsets[i+1]],
 * concatenated; `offsets` holds n+1 native int32 values (an Arrow string array's offsets buffer), `data` its
 * value bytes. The same digests as hashlib.sha1 per value, without a Python object per value; OpenSSL's
 * libcrypto does the hashing. Built as an optional extension (setup.py): without it ingest/mapper.py falls back
 * to hashlib with identical results.
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED
#include <Python.h>
#include <stdint.h>
#include <openssl/sha.h>

static PyObject *digests(PyObject *self, PyObject *args) {
    Py_buffer data, offs;
    if (!PyArg_ParseTuple(args, "y*y*:digests", &data, &offs))
        return NULL;
    PyObject *out = NULL;
    if (offs.len % 4 != 0 || offs.len < 4) {
        PyErr_SetString(PyExc_ValueError, "offsets must hold n+1 int32 values");
        goto done;
    }
    Py_ssize_t n = offs.len / 4 - 1;
    const int32_t *o = (const int32_t *)offs.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (o[i] < 0 || o[i + 1] < o[i] || (Py_ssize_t)o[i + 1] > data.len) {
            PyErr_SetString(PyExc_ValueError, "offsets out of order or beyond the data");
            goto done;
        }
    }
    out = PyBytes_FromStringAndSize(NULL, 20 * n);
    if (out == NULL)
        goto done;
    unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(out);
    const unsigned char *src = (const unsigned char *)data.buf;
    Py_BEGIN_ALLOW_THREADS
    SHA_CTX ctx;
    for (Py_ssize_t i = 0; i < n; i++) {
        SHA1_Init(&ctx);
        SHA1_Update(&ctx, src + o[i], (size_t)(o[i + 1] - o[i]));
        SHA1_Final(dst + 20 * i, &ctx);
    }
    Py_END_ALLOW_THREADS
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&offs);
    return out;
}

static PyMethodDef methods[] = {
    {"digests", digests, METH_VARARGS,
     "digests(data, offsets) -> bytes: concatenated SHA-1 digests of data[offsets[i]:offsets[i+1]]"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_sha1batch", NULL, -1, methods};

PyMODINIT_FUNC PyInit__sha1batch(void) { return PyModule_Create(&module); }
