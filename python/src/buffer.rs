//! The buffer protocol, for memoryviews, arrays and other bytes-like objects.
//!
//! PyO3 offers it only where the limited API has it (3.11 on); this crate is
//! built against the 3.9 limited API so that one wheel serves every CPython
//! from 3.9. `PyObject_GetBuffer`, `PyBuffer_Release` and `Py_buffer` joined
//! the stable ABI in 3.11 with the layout they have had since 3.3, so the
//! caller uses them only on 3.11 and later and copies the bytes before that.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void};

use pyo3::ffi::{Py_ssize_t, PyObject};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// `Py_buffer`, as in CPython's `Include/pybuffer.h` (stable ABI since 3.11).
#[repr(C)]
struct PyBufferView {
    buf: *mut c_void,
    obj: *mut PyObject,
    len: Py_ssize_t,
    itemsize: Py_ssize_t,
    readonly: c_int,
    ndim: c_int,
    format: *mut c_char,
    shape: *mut Py_ssize_t,
    strides: *mut Py_ssize_t,
    suboffsets: *mut Py_ssize_t,
    internal: *mut c_void,
}

/// `PyBUF_SIMPLE`: one contiguous run of bytes, read-only allowed.
const PYBUF_SIMPLE: c_int = 0;

unsafe extern "C" {
    fn PyObject_GetBuffer(obj: *mut PyObject, view: *mut PyBufferView, flags: c_int) -> c_int;
    fn PyBuffer_Release(view: *mut PyBufferView);
}

/// An exported buffer, released when dropped. Call only on CPython 3.11+.
pub struct Buffer(Box<PyBufferView>);

impl Buffer {
    /// Export `obj`'s bytes as one contiguous run (`PyBUF_SIMPLE`): a
    /// TypeError for an object that is no buffer, a BufferError for one that
    /// is not contiguous.
    pub fn get(obj: &Bound<'_, PyAny>) -> PyResult<Buffer> {
        let mut view = Box::new(PyBufferView {
            buf: std::ptr::null_mut(),
            obj: std::ptr::null_mut(),
            len: 0,
            itemsize: 0,
            readonly: 0,
            ndim: 0,
            format: std::ptr::null_mut(),
            shape: std::ptr::null_mut(),
            strides: std::ptr::null_mut(),
            suboffsets: std::ptr::null_mut(),
            internal: std::ptr::null_mut(),
        });
        // SAFETY: `obj` is a live object and the GIL is held (`Bound`);
        // `view` is a valid, writable Py_buffer that stays boxed (its address
        // fixed) until `PyBuffer_Release` in `drop`.
        let rc = unsafe { PyObject_GetBuffer(obj.as_ptr(), &mut *view, PYBUF_SIMPLE) };
        if rc != 0 {
            return Err(PyErr::fetch(obj.py()));
        }
        Ok(Buffer(view))
    }

    /// The exported bytes.
    pub fn bytes(&self) -> &[u8] {
        let len = usize::try_from(self.0.len).unwrap_or(0);
        if len == 0 || self.0.buf.is_null() {
            return &[];
        }
        // SAFETY: a PyBUF_SIMPLE export is `len` contiguous bytes at `buf`,
        // valid until the buffer is released, which `drop` does only after
        // every borrow of `self` ended. The exporter cannot resize while an
        // export is live; whether its contents may change while read is the
        // caller's concern (it keeps the GIL held unless they cannot).
        unsafe { std::slice::from_raw_parts(self.0.buf.cast::<u8>(), len) }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: the view was filled by a successful PyObject_GetBuffer and
        // is released once, with the GIL held.
        Python::attach(|_| unsafe { PyBuffer_Release(&mut *self.0) });
    }
}

/// The bytes of `data` (bytes, or any contiguous buffer), handed to `f`:
/// read in place on Python 3.11 and later, copied once before.
pub fn with_bytes<T>(data: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> T) -> PyResult<T> {
    if let Ok(b) = data.cast::<PyBytes>() {
        return Ok(f(b.as_bytes()));
    }
    if data.py().version_info() < (3, 11) {
        let b = data.call_method0("tobytes")?.cast_into::<PyBytes>()?;
        return Ok(f(b.as_bytes()));
    }
    let buffer = Buffer::get(data)?;
    Ok(f(buffer.bytes()))
}
