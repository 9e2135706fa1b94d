//! The one way a JSON document is written: indented as serde_json's pretty
//! printer indents, in large blocks.

use serde::Serialize;

/// Write `value` as indented JSON (two spaces, the layout of
/// `serde_json::to_writer_pretty`) and a final newline.
///
/// Reports with per-channel arrays run to hundreds of megabytes, nearly all
/// of it indentation and numbers. serde_json's pretty printer writes each
/// level of indentation as a separate write into a `dyn Write`; here each
/// newline and its indentation is one write, into a buffer local to the call
/// (so the writes inline), which reaches `w` in large blocks.
pub(crate) fn emit<T: Serialize + ?Sized>(
    w: &mut dyn std::io::Write,
    value: &T,
) -> std::io::Result<()> {
    let mut buf = std::io::BufWriter::with_capacity(1 << 16, w);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, Indented::default());
    // io::Error::from gives back the writer's own error (a broken pipe stays
    // a broken pipe), not serde_json's wrapper of it.
    value.serialize(&mut ser).map_err(std::io::Error::from)?;
    std::io::Write::write_all(&mut buf, b"\n")?;
    std::io::Write::flush(&mut buf)
}

/// The pretty layout: a newline and two spaces per level before every array
/// element and object key, the closing bracket on its own line unless the
/// container is empty, `": "` between key and value.
#[derive(Default)]
struct Indented {
    level: usize,
    has_value: bool,
    // ",\n" followed by spaces, grown as deeper levels are reached: the
    // separator, newline and indentation before a value go out in one write.
    newline: Vec<u8>,
}

impl Indented {
    /// A newline and the indentation of the current level, after a comma
    /// unless `first`.
    fn line<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        let len = self.level.saturating_mul(2).saturating_add(2);
        if self.newline.len() < len {
            self.newline.clear();
            self.newline.extend_from_slice(b",\n");
            self.newline.resize(len.max(64), b' ');
        }
        let from = usize::from(first);
        w.write_all(self.newline.get(from..len).unwrap_or_default())
    }

    fn open<W: ?Sized + std::io::Write>(&mut self, w: &mut W, b: &[u8]) -> std::io::Result<()> {
        self.level = self.level.saturating_add(1);
        self.has_value = false;
        w.write_all(b)
    }

    fn close<W: ?Sized + std::io::Write>(&mut self, w: &mut W, b: &[u8]) -> std::io::Result<()> {
        self.level = self.level.saturating_sub(1);
        if self.has_value {
            self.line(w, true)?;
        }
        w.write_all(b)
    }

    fn item<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.line(w, first)
    }
}

impl serde_json::ser::Formatter for Indented {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.item(w, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.item(w, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout is serde_json's own pretty layout, byte for byte.
    #[test]
    fn same_bytes_as_serde_json_pretty() {
        let values = [
            serde_json::json!(null),
            serde_json::json!([]),
            serde_json::json!({}),
            serde_json::json!([[], {}, [[]], {"a": {}}]),
            serde_json::json!({"a": [1, 2.5, -3e-7, "x\n\"y"], "b": {"c": [{"d": null}], "e": []}}),
        ];
        // Deeper than the first indentation buffer.
        let mut deep = serde_json::json!([1, {"k": []}]);
        for _ in 0..40 {
            deep = serde_json::json!([deep, 2]);
        }
        for v in values.into_iter().chain([deep]) {
            let mut ours = Vec::new();
            emit(&mut ours, &v).unwrap();
            let mut theirs = serde_json::to_vec_pretty(&v).unwrap();
            theirs.push(b'\n');
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(theirs).unwrap()
            );
        }
    }
}
