/* The ingest's byte-level batch helpers, each the compiled twin of a Python function that gives the same
 * result without it (the extension is optional, setup.py):
 *
 * digests(data, offsets) -> bytes: for i in 0..n-1, the 20-byte SHA-1 of data[offsets[i]:offsets[i+1]],
 * concatenated; `offsets` holds n+1 native int32 values (an Arrow string array's offsets buffer), `data` its
 * value bytes. The same digests as hashlib.sha1 per value, without a Python object per value; OpenSSL's
 * libcrypto does the hashing (ids.sha1_digests).
 *
 * uniform_values(data, nkeys, max_line) -> list of (offsets, values) | None: the value columns of a file whose
 * every line is its first line with other string values (readers/seed.py, _map_uniform's numpy path).
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED
#include <Python.h>
#include <stdint.h>
#include <string.h>
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

/* PLAIN[c]: a byte a value may hold (no control byte, backslash or quote) */
static unsigned char PLAIN[256];

static PyObject *uniform_values(PyObject *self, PyObject *args) {
    Py_buffer data;
    int nkeys;
    Py_ssize_t max_line;
    if (!PyArg_ParseTuple(args, "y*in:uniform_values", &data, &nkeys, &max_line))
        return NULL;
    const unsigned char *d = (const unsigned char *)data.buf;
    Py_ssize_t len = data.len, n = 0, cap = 0, nq = 4 * (Py_ssize_t)nkeys, skel = 0;
    PyObject *result = NULL, **offs = NULL, **vals = NULL;
    Py_ssize_t *piece_at = NULL, *piece_len = NULL, *filled = NULL;
    int ok = 1;
    if (nkeys < 1 || len == 0 || d[len - 1] != '\n' || len >= INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "need one key or more and data ending with a newline");
        goto done;
    }
    offs = PyMem_Calloc(nkeys, sizeof(PyObject *));
    vals = PyMem_Calloc(nkeys, sizeof(PyObject *));
    piece_at = PyMem_Calloc(nkeys + 1, sizeof(Py_ssize_t));
    piece_len = PyMem_Calloc(nkeys + 1, sizeof(Py_ssize_t));
    filled = PyMem_Calloc(nkeys, sizeof(Py_ssize_t));
    if (!offs || !vals || !piece_at || !piece_len || !filled) {
        PyErr_NoMemory();
        goto done;
    }
    /* the first line's skeleton: piece 0 up to and with the first value's opening quote, piece k from value
     * k-1's closing quote to value k's opening quote, the last piece from the last closing quote to the line
     * end; every skeleton byte is printable and no backslash */
    {
        const unsigned char *nl = memchr(d, '\n', (size_t)len);
        Py_ssize_t end = nl - d, q = 0, prev = 0;
        if (end > max_line)
            ok = 0;
        for (Py_ssize_t i = 0; ok && i < end; i++) {
            if (d[i] < 32 || d[i] == '\\')
                ok = 0;
            else if (d[i] == '"') {
                if (q == nq) { /* more quotes than the keys' */
                    ok = 0;
                    break;
                }
                if (q % 4 == 2) { /* a value's opening quote: the piece ends here */
                    piece_at[q / 4] = prev;
                    piece_len[q / 4] = i + 1 - prev;
                } else if (q % 4 == 3) { /* its closing quote: the next piece starts here */
                    prev = i;
                }
                q++;
            }
        }
        if (q != nq)
            ok = 0;
        piece_at[nkeys] = prev;
        piece_len[nkeys] = end - prev;
        for (int k = 0; k <= nkeys; k++)
            skel += piece_len[k];
    }
    if (!ok)
        goto refused;
    cap = len / (skel + 1) + 1; /* a line holds its skeleton and a newline at least */
    for (int k = 0; k < nkeys; k++) {
        offs[k] = PyBytes_FromStringAndSize(NULL, 4 * (cap + 1));
        vals[k] = PyBytes_FromStringAndSize(NULL, len);
        if (offs[k] == NULL || vals[k] == NULL)
            goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t pos = 0;
    while (ok && pos < len) {
        const unsigned char *nl = memchr(d + pos, '\n', (size_t)(len - pos));
        Py_ssize_t end = nl - d;
        if (end - pos > max_line || n == cap) {
            ok = 0;
            break;
        }
        for (int k = 0; ok && k <= nkeys; k++) {
            Py_ssize_t pl = piece_len[k];
            if (pos + pl > end || memcmp(d + pos, d + piece_at[k], (size_t)pl) != 0) {
                ok = 0;
                break;
            }
            pos += pl;
            if (k == nkeys)
                break;
            Py_ssize_t start = pos;
            while (pos < end && PLAIN[d[pos]])
                pos++;
            if (pos >= end || d[pos] != '"') { /* a control byte, a backslash, or no closing quote */
                ok = 0;
                break;
            }
            memcpy(PyBytes_AS_STRING(vals[k]) + filled[k], d + start, (size_t)(pos - start));
            ((int32_t *)PyBytes_AS_STRING(offs[k]))[n] = (int32_t)filled[k];
            filled[k] += pos - start;
        }
        if (ok && pos != end)
            ok = 0;
        pos = end + 1;
        n++;
    }
    Py_END_ALLOW_THREADS
    if (!ok)
        goto refused;
    result = PyList_New(nkeys);
    if (result == NULL)
        goto done;
    for (int k = 0; k < nkeys; k++) {
        ((int32_t *)PyBytes_AS_STRING(offs[k]))[n] = (int32_t)filled[k];
        if (_PyBytes_Resize(&offs[k], 4 * (n + 1)) < 0 || _PyBytes_Resize(&vals[k], filled[k]) < 0) {
            Py_CLEAR(result);
            goto done;
        }
        PyObject *pair = PyTuple_Pack(2, offs[k], vals[k]);
        if (pair == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, k, pair);
    }
    goto done;
refused:
    Py_INCREF(Py_None);
    result = Py_None;
done:
    for (int k = 0; k < nkeys && offs != NULL; k++) {
        Py_XDECREF(offs[k]);
        Py_XDECREF(vals[k]);
    }
    PyMem_Free(offs);
    PyMem_Free(vals);
    PyMem_Free(piece_at);
    PyMem_Free(piece_len);
    PyMem_Free(filled);
    PyBuffer_Release(&data);
    return result;
}

static PyMethodDef methods[] = {
    {"digests", digests, METH_VARARGS,
     "digests(data, offsets) -> bytes: concatenated SHA-1 digests of data[offsets[i]:offsets[i+1]]"},
    {"uniform_values", uniform_values, METH_VARARGS,
     "uniform_values(data, nkeys, max_line) -> [(offsets, values), ...] | None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_sha1batch", NULL, -1, methods};

PyMODINIT_FUNC PyInit__sha1batch(void) {
    for (int c = 0; c < 256; c++)
        PLAIN[c] = c >= 32 && c != '\\' && c != '"';
    return PyModule_Create(&module);
}
