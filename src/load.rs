//! Bytes → validated [`Model`]. The only module that reads the flatbuffer.
//!
//! The file is walked once, eagerly: every offset planus follows is bounds
//! checked, every index (operator code, tensor, buffer, subgraph, signature
//! tensor) is checked against what it indexes, and buffer ranges stored past
//! the flatbuffer are checked against the file length. Weight bytes are never
//! read: an inline buffer is recorded by its position, so only the pages that
//! hold metadata are touched when the file is memory-mapped.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use planus::ReadAsRoot;
use tflq_schema as fb;

use crate::error::{Error, Result};
use crate::model::*;

/// The runtime only verifies the first `2^31 - 2` bytes: the flatbuffer part
/// of a model is always below 2 GiB, whatever is appended after it.
const MAX_FLATBUFFER_LEN: usize = (1 << 31) - 2;

/// A model read from a file, with the file kept mapped: the model borrows
/// its tensor names from the map, and constant data can be read on request.
pub struct ModelFile {
    path: PathBuf,
    cell: MappedModel,
}

#[derive(Debug)]
enum Bytes {
    Mapped(memmap2::Mmap),
    /// Read from a stream ([`ModelFile::read`]).
    Owned(Vec<u8>),
    Empty,
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
            Bytes::Empty => &[],
        }
    }
}

/// What a non-regular file is, for [`Error::NotAFile`]; `Ok` for a regular file.
fn regular_file(path: &Path, kind: &std::fs::FileType) -> Result<()> {
    if kind.is_file() {
        return Ok(());
    }
    let what = if kind.is_dir() {
        "a directory"
    } else {
        special_file_kind(kind)
    };
    Err(Error::NotAFile {
        path: path.to_path_buf(),
        what,
    })
}

#[cfg(unix)]
fn special_file_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "of another kind"
    }
}

#[cfg(not(unix))]
fn special_file_kind(_: &std::fs::FileType) -> &'static str {
    "of another kind"
}

/// Open for reading. On Unix with `O_NONBLOCK`: should the path have become a
/// FIFO since it was checked, opening it returns at once instead of waiting
/// for a writer (the flag changes nothing for a regular file).
fn open_without_blocking(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

self_cell::self_cell!(
    /// The map and the model that borrows from it, in one value.
    struct MappedModel {
        owner: Bytes,
        #[covariant]
        dependent: Model,
    }
);

impl std::fmt::Debug for ModelFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelFile")
            .field("path", &self.path)
            .field("len", &self.cell.borrow_owner().as_slice().len())
            .field("model", self.model())
            .finish()
    }
}

impl ModelFile {
    /// Memory-map `path` and read the model in it. Only a regular file is
    /// opened: a directory, a FIFO, a device or a socket gives
    /// [`Error::NotAFile`] without being opened for reading (a FIFO would
    /// block until a writer appears, a device has no length to map).
    pub fn open(path: impl AsRef<Path>) -> Result<ModelFile> {
        let path = path.as_ref().to_path_buf();
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        // Look before opening: what the path names decides whether it may be
        // opened at all.
        let meta = std::fs::metadata(&path).map_err(io)?;
        regular_file(&path, &meta.file_type())?;
        let file = open_without_blocking(&path).map_err(io)?;
        // The path may name something else by now: check what was opened.
        let meta = file.metadata().map_err(io)?;
        regular_file(&path, &meta.file_type())?;
        let len = meta.len();
        let bytes = if len == 0 {
            Bytes::Empty
        } else {
            // SAFETY: the map is read-only and lives as long as this value. As
            // with every memory-mapped reader, another process truncating the
            // file while it is open can fault; tflq accepts that, as the TFLite
            // runtime does, to avoid copying (possibly gigabytes of) weights.
            #[allow(unsafe_code)]
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
            // The reads are scattered table lookups; without this the kernel
            // reads ahead and maps whole large folios of weights around each
            // lookup, which shows up as resident memory. Advice only: a
            // kernel that ignores it changes nothing but the RSS.
            #[cfg(unix)]
            let _ = map.advise(memmap2::Advice::Random);
            Bytes::Mapped(map)
        };
        let cell = MappedModel::try_new(bytes, |bytes| load(bytes.as_slice()))?;
        Ok(ModelFile { path, cell })
    }

    /// Read a whole model from `reader` (standard input, a pipe, a socket)
    /// into memory and load it; `label` names it in errors and reports. At
    /// most `max_len` bytes are read: a longer stream gives
    /// [`Error::InputTooLarge`] (a file of any size is better given to
    /// [`ModelFile::open`], which maps it instead of copying it).
    pub fn read(label: impl AsRef<Path>, reader: impl Read, max_len: u64) -> Result<ModelFile> {
        let path = label.as_ref().to_path_buf();
        let mut data = Vec::new();
        reader
            .take(max_len.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        if data.len() as u64 > max_len {
            return Err(Error::InputTooLarge {
                path,
                limit: max_len,
            });
        }
        let bytes = if data.is_empty() {
            Bytes::Empty
        } else {
            Bytes::Owned(data)
        };
        let cell = MappedModel::try_new(bytes, |bytes| load(bytes.as_slice()))?;
        Ok(ModelFile { path, cell })
    }

    /// The model.
    pub fn model(&self) -> &Model<'_> {
        self.cell.borrow_dependent()
    }

    /// The path it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The constant data of a tensor. This is the only call that reads weight bytes.
    pub fn tensor_data(&self, tensor: &Tensor<'_>) -> Option<&[u8]> {
        let range = self.model().tensor_data_range(tensor)?.to_range()?;
        self.cell.borrow_owner().as_slice().get(range)
    }
}

/// Read a model from bytes (the whole file). The model borrows tensor names
/// from `bytes`.
pub fn load(bytes: &[u8]) -> Result<Model<'_>> {
    read_model(bytes).map_err(|e| {
        // Past 2 GiB, planus sees only the part a flatbuffer may occupy: an
        // offset beyond that is invalid, not a sign of a short file.
        if bytes.len() <= MAX_FLATBUFFER_LEN {
            e.past_end_of(bytes.len() as u64)
        } else {
            e
        }
    })
}

fn read_model(bytes: &[u8]) -> Result<Model<'_>> {
    let file_len = bytes.len() as u64;
    if bytes.len() < 8 {
        return Err(Error::TooShort { len: file_len });
    }
    let ident = &bytes[4..8];
    if ident != b"TFL3" {
        return Err(Error::NotTflite {
            found: ident.escape_ascii().to_string(),
        });
    }
    let fb_bytes = &bytes[..bytes.len().min(MAX_FLATBUFFER_LEN)];
    let root = fb::ModelRef::read_as_root(fb_bytes).map_err(|e| Error::malformed("model", e))?;
    let version = root
        .version()
        .map_err(|e| Error::malformed("model.version", e))?;
    if version != 3 {
        return Err(Error::UnsupportedVersion { version });
    }
    Loader {
        base: bytes,
        budget: Budget::new(file_len),
        warnings: Vec::new(),
    }
    .model(root, version)
}

/// Caps the number of elements decoded. Every element of a well-formed file
/// takes at least one byte of it, but flatbuffers allow many offsets to the
/// same table; without a cap a small file could expand into gigabytes.
struct Budget {
    left: u64,
    limit: u64,
    file_len: u64,
}

impl Budget {
    fn new(file_len: u64) -> Budget {
        let limit = file_len.saturating_mul(4).saturating_add(1 << 20);
        Budget {
            left: limit,
            limit,
            file_len,
        }
    }

    fn charge(&mut self, n: usize, path: impl FnOnce() -> String) -> Result<()> {
        match self.left.checked_sub(n as u64) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(Error::TooLarge {
                path: path(),
                limit: self.limit,
                file_len: self.file_len,
            }),
        }
    }
}

struct Loader<'b> {
    base: &'b [u8],
    budget: Budget,
    warnings: Vec<String>,
}

/// Attach an element path to a planus error.
trait At<T> {
    fn at(self, path: impl FnOnce() -> String) -> Result<T>;
}

impl<T> At<T> for planus::Result<T> {
    // Called for every field of every table: inlined, so that only the small
    // Ok value moves, with the error path kept out of line.
    #[inline(always)]
    fn at(self, path: impl FnOnce() -> String) -> Result<T> {
        match self {
            Ok(v) => Ok(v),
            Err(e) => Err(malformed_at(path, e)),
        }
    }
}

#[cold]
#[inline(never)]
fn malformed_at(path: impl FnOnce() -> String, e: planus::Error) -> Error {
    Error::malformed(path(), e)
}

/// An operator's tensors, as [`Operator`] holds them.
struct Operands {
    inputs: Inputs,
    outputs: Outputs,
    intermediates: Vec<TensorId>,
}

/// What an operator's builtin options say that tflq keeps.
struct OptionsRead {
    activation: Option<Activation>,
    calls: Vec<(CallRole, SubgraphId)>,
}

/// Capacity to reserve for `len` elements read from the file: enough to avoid
/// regrowing vectors of any real model, capped so that a forged length (which
/// planus has only checked to fit in the file) cannot claim memory far beyond
/// what the elements will really take.
fn reserve(len: usize) -> usize {
    len.min(1 << 16)
}

fn check_index(
    index: i64,
    len: usize,
    what: &'static str,
    path: impl FnOnce() -> String,
) -> Result<u32> {
    match usize::try_from(index) {
        Ok(i) if i < len => Ok(i as u32),
        _ => Err(Error::IndexOutOfRange {
            path: path(),
            what,
            index,
            len,
        }),
    }
}

impl<'b> Loader<'b> {
    fn model(mut self, root: fb::ModelRef<'b>, version: u32) -> Result<Model<'b>> {
        let description = root
            .description()
            .at(|| "model.description".into())?
            .map(str::to_owned);

        let buffers = self.buffers(root)?;

        let mut operator_codes = Vec::new();
        if let Some(codes) = root.operator_codes().at(|| "model.operator_codes".into())? {
            self.budget
                .charge(codes.len(), || "model.operator_codes".into())?;
            for (i, code) in codes.iter().enumerate() {
                let path = || format!("operator_codes[{i}]");
                let code = code.at(path)?;
                let deprecated = code.deprecated_builtin_code().at(path)?;
                let builtin = code.builtin_code().at(path)?;
                let custom = code.custom_code().at(path)?;
                if let Some(c) = custom {
                    self.budget.charge(c.len(), path)?;
                }
                let version = code.version().at(path)?;
                operator_codes.push(OperatorCode {
                    kind: OpKind::resolve(deprecated, builtin, custom),
                    version,
                });
            }
        }

        let fb_subgraphs = root.subgraphs().at(|| "model.subgraphs".into())?;
        let n_subgraphs = fb_subgraphs.map_or(0, |s| s.len());
        let mut subgraphs = Vec::new();
        if let Some(sgs) = fb_subgraphs {
            self.budget.charge(sgs.len(), || "model.subgraphs".into())?;
            for (i, sg) in sgs.iter().enumerate() {
                let sg = sg.at(|| format!("subgraphs[{i}]"))?;
                subgraphs.push(self.subgraph(i, sg, &buffers, &operator_codes, n_subgraphs)?);
            }
        }

        let mut metadata = Vec::new();
        let mut min_runtime_version = None;
        let mut conversion = None;
        if let Some(entries) = root.metadata().at(|| "model.metadata".into())? {
            self.budget
                .charge(entries.len(), || "model.metadata".into())?;
            for (i, entry) in entries.iter().enumerate() {
                let path = || format!("metadata[{i}]");
                let entry = entry.at(path)?;
                let name = entry.name().at(path)?.unwrap_or("").to_owned();
                self.budget.charge(name.len(), path)?;
                let buffer = entry.buffer().at(path)?;
                let buffer = BufferId(check_index(buffer.into(), buffers.len(), "buffer", || {
                    format!("metadata[{i}].buffer")
                })?);
                let value = self.buffer_bytes(&buffers[buffer.index()]);
                match name.as_str() {
                    "min_runtime_version" => {
                        min_runtime_version = value.and_then(runtime_version_string);
                    }
                    "CONVERSION_METADATA" => {
                        conversion = value.and_then(|v| self.conversion(v));
                    }
                    _ => {}
                }
                metadata.push(Metadata { name, buffer });
            }
        }

        let mut signatures = Vec::new();
        if let Some(sigs) = root.signature_defs().at(|| "model.signature_defs".into())? {
            self.budget
                .charge(sigs.len(), || "model.signature_defs".into())?;
            for (i, sig) in sigs.iter().enumerate() {
                let sig = sig.at(|| format!("signature_defs[{i}]"))?;
                signatures.push(self.signature(i, sig, &subgraphs)?);
            }
        }

        let external_buffers = root
            .external_buffers()
            .at(|| "model.external_buffers".into())?
            .map_or(0, |v| v.len());

        Ok(Model {
            version,
            description,
            file_len: self.base.len() as u64,
            operator_codes,
            subgraphs,
            buffers,
            metadata,
            signatures,
            min_runtime_version,
            conversion,
            external_buffers,
            warnings: self.warnings,
        })
    }

    fn buffers(&mut self, root: fb::ModelRef<'b>) -> Result<Vec<Buffer>> {
        let Some(fb_buffers) = root.buffers().at(|| "model.buffers".into())? else {
            return Ok(Vec::new());
        };
        self.budget
            .charge(fb_buffers.len(), || "model.buffers".into())?;
        let file_len = self.base.len() as u64;
        let base = self.base.as_ptr() as usize;
        let mut buffers = Vec::with_capacity(fb_buffers.len());
        for (i, b) in fb_buffers.iter().enumerate() {
            let path = || format!("buffers[{i}]");
            let b = b.at(path)?;
            let data = b.data().at(path)?;
            let buffer = match data {
                Some(data) if !data.is_empty() => Buffer::Inline(FileRange {
                    // The slice lies inside `base` (planus checked it), so this
                    // is its position in the file.
                    offset: (data.as_ptr() as usize).wrapping_sub(base) as u64,
                    len: data.len() as u64,
                }),
                _ => {
                    let offset = b.offset().at(path)?;
                    let size = b.size().at(path)?;
                    // Offsets 0 and 1 mean "none" (1 is the writer's placeholder).
                    if offset > 1 {
                        match offset.checked_add(size) {
                            Some(end) if end <= file_len => {}
                            _ => {
                                return Err(Error::DataOutOfFile {
                                    path: format!("buffers[{i}]"),
                                    offset,
                                    size,
                                    file_len,
                                });
                            }
                        }
                        if size == 0 {
                            Buffer::Empty
                        } else {
                            Buffer::Appended(FileRange { offset, len: size })
                        }
                    } else {
                        Buffer::Empty
                    }
                }
            };
            buffers.push(buffer);
        }
        Ok(buffers)
    }

    /// Bytes of a metadata buffer (small by nature; weights never come here).
    fn buffer_bytes(&self, buffer: &Buffer) -> Option<&'b [u8]> {
        let range = match buffer {
            Buffer::Empty => return None,
            Buffer::Inline(r) | Buffer::Appended(r) => r.to_range()?,
        };
        self.base.get(range)
    }

    fn conversion(&mut self, bytes: &[u8]) -> Option<ConversionInfo> {
        match read_conversion(bytes) {
            Ok(info) => Some(info),
            Err(e) => {
                self.warnings
                    .push(format!("CONVERSION_METADATA could not be read: {e}"));
                None
            }
        }
    }

    fn subgraph(
        &mut self,
        index: usize,
        sg: fb::SubGraphRef<'b>,
        buffers: &[Buffer],
        codes: &[OperatorCode],
        n_subgraphs: usize,
    ) -> Result<Subgraph<'b>> {
        let name = sg
            .name()
            .at(|| format!("subgraphs[{index}].name"))?
            .unwrap_or("")
            .to_owned();

        let mut tensors = Vec::new();
        if let Some(ts) = sg.tensors().at(|| format!("subgraphs[{index}].tensors"))? {
            self.budget
                .charge(ts.len(), || format!("subgraphs[{index}].tensors"))?;
            tensors.reserve(reserve(ts.len()));
            for (t, tensor) in ts.iter().enumerate() {
                let tensor = tensor.at(|| format!("subgraphs[{index}].tensors[{t}]"))?;
                tensors.push(self.tensor(index, t, tensor, buffers, ts.len())?);
            }
        }
        let n_tensors = tensors.len();
        let use_costs: Vec<usize> = tensors.iter().map(use_cost).collect();

        let io = |this: &mut Self, v: Option<planus::Vector<'b, i32>>, field: &str| {
            let mut out = Vec::new();
            if let Some(v) = v {
                this.budget
                    .charge(v.len(), || format!("subgraphs[{index}].{field}"))?;
                let mut cost = 0usize;
                for (k, t) in v.iter().enumerate() {
                    let t = check_index(t.into(), n_tensors, "tensor", || {
                        format!("subgraphs[{index}].{field}[{k}]")
                    })?;
                    cost = cost.saturating_add(use_costs[t as usize]);
                    out.push(TensorId(t));
                }
                this.budget
                    .charge(cost, || format!("subgraphs[{index}].{field}"))?;
            }
            Ok::<_, Error>(out)
        };
        let inputs = sg.inputs().at(|| format!("subgraphs[{index}].inputs"))?;
        let inputs = io(self, inputs, "inputs")?;
        let outputs = sg.outputs().at(|| format!("subgraphs[{index}].outputs"))?;
        let outputs = io(self, outputs, "outputs")?;

        let mut operators = Vec::new();
        if let Some(ops) = sg
            .operators()
            .at(|| format!("subgraphs[{index}].operators"))?
        {
            self.budget
                .charge(ops.len(), || format!("subgraphs[{index}].operators"))?;
            operators.reserve(reserve(ops.len()));
            for (o, op) in ops.iter().enumerate() {
                let op = op.at(|| format!("subgraphs[{index}].operators[{o}]"))?;
                operators.push(self.operator(index, o, op, codes, &use_costs, n_subgraphs)?);
            }
        }

        Ok(Subgraph {
            name,
            tensors,
            operators,
            inputs,
            outputs,
        })
    }

    fn tensor(
        &mut self,
        sg: usize,
        t: usize,
        tensor: fb::TensorRef<'b>,
        buffers: &[Buffer],
        n_tensors: usize,
    ) -> Result<Tensor<'b>> {
        let path = || format!("subgraphs[{sg}].tensors[{t}]");
        let shape = self.numbers(tensor.shape().at(path)?, &|| format!("{}.shape", path()))?;
        let shape_signature = match tensor.shape_signature().at(path)? {
            Some(v) => Some(self.numbers(Some(v), &|| format!("{}.shape_signature", path()))?),
            None => None,
        };
        let dtype = DType(tensor.type_().at(path)?);
        let buffer = tensor.buffer().at(path)?;
        // A model with no buffers at all can still say "buffer 0" (= none).
        let data_len = if buffer == 0 && buffers.is_empty() {
            0
        } else {
            let b = check_index(buffer.into(), buffers.len(), "buffer", || {
                format!("{}.buffer", path())
            })?;
            buffers[b as usize].len()
        };
        let name = tensor.name().at(path)?.unwrap_or("");
        self.budget.charge(name.len(), path)?;
        let quantization = match tensor.quantization().at(path)? {
            Some(q) => self.quantization(q, n_tensors, &|| format!("{}.quantization", path()))?,
            None => None,
        };
        Ok(Tensor {
            name,
            shape,
            shape_signature,
            dtype,
            buffer: BufferId(buffer),
            quantization,
            is_variable: tensor.is_variable().at(path)?,
            has_rank: tensor.has_rank().at(path)?,
            sparse: tensor.sparsity().at(path)?.is_some(),
            external_buffer: tensor.external_buffer().at(path)?,
            data_len,
        })
    }

    /// A vector of numbers, charged to the element budget; empty when absent.
    fn numbers<T, C>(
        &mut self,
        v: Option<planus::Vector<'b, T>>,
        path: &dyn Fn() -> String,
    ) -> Result<C>
    where
        T: planus::VectorRead<'b>,
        C: FromIterator<T> + Default,
    {
        let Some(v) = v else {
            return Ok(C::default());
        };
        self.budget.charge(v.len(), path)?;
        Ok(v.iter().collect())
    }

    /// A numeric vector left in the file, charged to the element budget as
    /// if decoded (a report may decode it); empty when absent. planus checked
    /// when the vector was read that all of it lies inside the file.
    fn view<T>(
        &mut self,
        v: Option<planus::Vector<'b, T>>,
        path: &dyn Fn() -> String,
    ) -> Result<Numbers<'b, T>>
    where
        T: Scalar<'b>,
    {
        let Some(v) = v else {
            return Ok(Numbers::default());
        };
        self.budget.charge(v.len(), path)?;
        Ok(Numbers::from_file(v))
    }

    fn quantization(
        &mut self,
        q: fb::QuantizationParametersRef<'b>,
        n_tensors: usize,
        path: &dyn Fn() -> String,
    ) -> Result<Option<QuantParams<'b>>> {
        let scale = self.view(q.scale().at(path)?, path)?;
        let min = self.view(q.min().at(path)?, path)?;
        let max = self.view(q.max().at(path)?, path)?;
        let zero_point = self.view(q.zero_point().at(path)?, path)?;
        let details = match q.details() {
            Ok(None) => None,
            Ok(Some(d)) => Some(Box::new(self.quant_details(d, n_tensors, path)?)),
            Err(e) => match e.error_kind {
                planus::errors::ErrorKind::UnknownUnionTag { tag } => {
                    Some(Box::new(QuantDetails::Unknown { tag }))
                }
                _ => return Err(Error::malformed(path(), e)),
            },
        };
        let quantized_dimension = q.quantized_dimension().at(path)?;
        if scale.is_empty() && min.is_empty() && max.is_empty() && details.is_none() {
            return Ok(None);
        }
        let calibration =
            (!min.is_empty() || !max.is_empty()).then(|| Box::new(Calibration { min, max }));
        Ok(Some(QuantParams {
            scale,
            zero_point,
            quantized_dimension,
            calibration,
            details,
        }))
    }

    fn quant_details(
        &mut self,
        d: fb::QuantizationDetailsRef<'b>,
        n_tensors: usize,
        path: &dyn Fn() -> String,
    ) -> Result<QuantDetails> {
        // Scale and zero-point tensors of block-wise schemes are tensors of
        // the same subgraph; a negative index means none.
        let tensor = |i: i32, field: &str| -> Result<Option<TensorId>> {
            if i < 0 {
                return Ok(None);
            }
            let id = check_index(i.into(), n_tensors, "tensor", || {
                format!("{}.details.{field}", path())
            })?;
            Ok(Some(TensorId(id)))
        };
        Ok(match d {
            fb::QuantizationDetailsRef::CustomQuantization(c) => QuantDetails::Custom {
                bytes: c.custom().at(path)?.map_or(0, <[u8]>::len),
            },
            fb::QuantizationDetailsRef::BlockwiseQuantization(b) => QuantDetails::Blockwise {
                scales: tensor(b.scales().at(path)?, "scales")?,
                zero_points: tensor(b.zero_points().at(path)?, "zero_points")?,
                block_size: b.block_size().at(path)?,
            },
            fb::QuantizationDetailsRef::MultiAxisQuantization(m) => QuantDetails::MultiAxis {
                scales: tensor(m.scales().at(path)?, "scales")?,
                zero_points: tensor(m.zero_points().at(path)?, "zero_points")?,
                block_size: m.block_size().at(path)?,
                quantized_dimensions: self.numbers(m.quantized_dimensions().at(path)?, path)?,
            },
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn operator(
        &mut self,
        sg: usize,
        o: usize,
        op: fb::OperatorRef<'b>,
        codes: &[OperatorCode],
        use_costs: &[usize],
        n_subgraphs: usize,
    ) -> Result<Operator> {
        let path = || format!("subgraphs[{sg}].operators[{o}]");
        let opcode_index = op.opcode_index().at(path)?;
        let code = check_index(opcode_index.into(), codes.len(), "operator code", || {
            format!("{}.opcode_index", path())
        })?;
        let code = &codes[code as usize];
        let Operands {
            inputs,
            outputs,
            intermediates,
        } = self.operands(op, &path, use_costs)?;
        let OptionsRead { activation, calls } = self.options(op, &path, n_subgraphs)?;
        let custom_options_len = self.custom_options_len(op, &path)?;
        Ok(Operator {
            opcode_index,
            kind: code.kind.clone(),
            version: code.version,
            inputs,
            outputs,
            intermediates,
            activation,
            calls,
            custom_options_len,
        })
    }

    /// An operator's inputs (-1: absent), outputs and intermediates, each
    /// index checked, charged to the budget with what the inputs' and
    /// outputs' tensors cost where they are used (see `use_cost`).
    fn operands(
        &mut self,
        op: fb::OperatorRef<'b>,
        path: &impl Fn() -> String,
        use_costs: &[usize],
    ) -> Result<Operands> {
        let n_tensors = use_costs.len();
        let mut cost = 0usize;
        let mut inputs = Inputs::new();
        if let Some(v) = op.inputs().at(path)? {
            self.budget.charge(v.len(), path)?;
            inputs.reserve(reserve(v.len()));
            for (k, t) in v.iter().enumerate() {
                inputs.push(if t == -1 {
                    None
                } else {
                    let t = check_index(t.into(), n_tensors, "tensor", || {
                        format!("{}.inputs[{k}]", path())
                    })?;
                    cost = cost.saturating_add(use_costs[t as usize]);
                    Some(TensorId(t))
                });
            }
        }
        let mut outputs = Outputs::new();
        if let Some(v) = op.outputs().at(path)? {
            self.budget.charge(v.len(), path)?;
            outputs.reserve(reserve(v.len()));
            for (k, t) in v.iter().enumerate() {
                if t == -1 {
                    self.warnings
                        .push(format!("{}.outputs[{k}] is -1 (no tensor)", path()));
                    continue;
                }
                let t = check_index(t.into(), n_tensors, "tensor", || {
                    format!("{}.outputs[{k}]", path())
                })?;
                cost = cost.saturating_add(use_costs[t as usize]);
                outputs.push(TensorId(t));
            }
        }
        self.budget.charge(cost, path)?;
        let mut intermediates = Vec::new();
        if let Some(v) = op.intermediates().at(path)? {
            self.budget.charge(v.len(), path)?;
            for (k, t) in v.iter().enumerate() {
                intermediates.push(TensorId(check_index(
                    t.into(),
                    n_tensors,
                    "tensor",
                    || format!("{}.intermediates[{k}]", path()),
                )?));
            }
        }
        Ok(Operands {
            inputs,
            outputs,
            intermediates,
        })
    }

    /// The fused activation and the subgraphs an operator calls, from its
    /// builtin options (options of a kind newer than the schema are a
    /// warning).
    fn options(
        &mut self,
        op: fb::OperatorRef<'b>,
        path: &impl Fn() -> String,
        n_subgraphs: usize,
    ) -> Result<OptionsRead> {
        let mut activation = None;
        let mut calls = Vec::new();
        let mut sub = |role: CallRole, index: i64, field: &str| -> Result<()> {
            let s = check_index(index, n_subgraphs, "subgraph", || {
                format!("{}.builtin_options.{field}", path())
            })?;
            calls.push((role, SubgraphId(s)));
            Ok(())
        };
        use fb::BuiltinOptionsRef as B;
        match op.builtin_options() {
            Ok(None) => {}
            Ok(Some(opts)) => {
                let act = match opts {
                    B::Conv2DOptions(x) => Some(x.fused_activation_function().at(path)?),
                    B::DepthwiseConv2DOptions(x) => Some(x.fused_activation_function().at(path)?),
                    B::Pool2DOptions(x) => Some(x.fused_activation_function().at(path)?),
                    B::FullyConnectedOptions(x) => Some(x.fused_activation_function().at(path)?),
                    B::ConcatenationOptions(x) => Some(x.fused_activation_function().at(path)?),
                    B::AddOptions(x) => Some(x.fused_activation_function().at(path)?),
                    B::SubOptions(x) => Some(x.fused_activation_function().at(path)?),
                    B::MulOptions(x) => Some(x.fused_activation_function().at(path)?),
                    B::DivOptions(x) => Some(x.fused_activation_function().at(path)?),
                    B::TransposeConvOptions(x) => Some(x.fused_activation_function().at(path)?),
                    B::Conv3DOptions(x) => Some(x.fused_activation_function().at(path)?),
                    B::LstmOptions(x) => Some(x.fused_activation_function().at(path)?),
                    B::UnidirectionalSequenceLstmOptions(x) => {
                        Some(x.fused_activation_function().at(path)?)
                    }
                    B::WhileOptions(x) => {
                        sub(
                            CallRole::Cond,
                            x.cond_subgraph_index().at(path)?.into(),
                            "cond_subgraph_index",
                        )?;
                        sub(
                            CallRole::Body,
                            x.body_subgraph_index().at(path)?.into(),
                            "body_subgraph_index",
                        )?;
                        None
                    }
                    B::IfOptions(x) => {
                        sub(
                            CallRole::Then,
                            x.then_subgraph_index().at(path)?.into(),
                            "then_subgraph_index",
                        )?;
                        sub(
                            CallRole::Else,
                            x.else_subgraph_index().at(path)?.into(),
                            "else_subgraph_index",
                        )?;
                        None
                    }
                    B::CallOnceOptions(x) => {
                        sub(
                            CallRole::Init,
                            x.init_subgraph_index().at(path)?.into(),
                            "init_subgraph_index",
                        )?;
                        None
                    }
                    B::CallOptions(x) => {
                        sub(CallRole::Call, x.subgraph().at(path)?.into(), "subgraph")?;
                        None
                    }
                    _ => None,
                };
                activation = act.map(Activation::from_raw);
            }
            Err(e) => match e.error_kind {
                planus::errors::ErrorKind::UnknownUnionTag { tag } => self.warnings.push(format!(
                    "{}: options of unknown kind {tag} (newer schema) were not read",
                    path()
                )),
                _ => return Err(Error::malformed(format!("{}.builtin_options", path()), e)),
            },
        }
        match op.builtin_options_2() {
            Ok(Some(fb::BuiltinOptions2Ref::StableHloCompositeOptions(x))) => {
                sub(
                    CallRole::Decomposition,
                    x.decomposition_subgraph_index().at(path)?.into(),
                    "decomposition_subgraph_index",
                )?;
            }
            Ok(_) => {}
            Err(e) => match e.error_kind {
                planus::errors::ErrorKind::UnknownUnionTag { tag } => self.warnings.push(format!(
                    "{}: options (second table) of unknown kind {tag} were not read",
                    path()
                )),
                _ => return Err(Error::malformed(format!("{}.builtin_options_2", path()), e)),
            },
        }
        Ok(OptionsRead { activation, calls })
    }

    /// The length of an operator's custom options, inline or stored past the
    /// flatbuffer (which must lie inside the file).
    fn custom_options_len(
        &mut self,
        op: fb::OperatorRef<'b>,
        path: &impl Fn() -> String,
    ) -> Result<u64> {
        let mut custom_options_len = op.custom_options().at(path)?.map_or(0, |c| c.len() as u64);
        let large_offset = op.large_custom_options_offset().at(path)?;
        if large_offset > 1 {
            let size = op.large_custom_options_size().at(path)?;
            let file_len = self.base.len() as u64;
            match large_offset.checked_add(size) {
                Some(end) if end <= file_len => custom_options_len = size,
                _ => {
                    return Err(Error::DataOutOfFile {
                        path: format!("{}.large_custom_options_offset", path()),
                        offset: large_offset,
                        size,
                        file_len,
                    });
                }
            }
        }
        Ok(custom_options_len)
    }

    fn signature(
        &mut self,
        i: usize,
        sig: fb::SignatureDefRef<'b>,
        subgraphs: &[Subgraph<'_>],
    ) -> Result<Signature> {
        let path = || format!("signature_defs[{i}]");
        let key = sig.signature_key().at(path)?.unwrap_or("").to_owned();
        let sub = sig.subgraph_index().at(path)?;
        let sub = check_index(sub.into(), subgraphs.len(), "subgraph", || {
            format!("{}.subgraph_index", path())
        })?;
        let n_tensors = subgraphs[sub as usize].tensors.len();
        let mut maps = |v: Option<planus::Vector<'b, planus::Result<fb::TensorMapRef<'b>>>>,
                        field: &str|
         -> Result<Vec<(String, TensorId)>> {
            let mut out = Vec::new();
            let Some(v) = v else { return Ok(out) };
            self.budget.charge(v.len(), path)?;
            for (k, m) in v.iter().enumerate() {
                let p = || format!("{}.{field}[{k}]", path());
                let m = m.at(p)?;
                let name = m.name().at(p)?.unwrap_or("").to_owned();
                self.budget.charge(name.len(), p)?;
                let t = check_index(m.tensor_index().at(p)?.into(), n_tensors, "tensor", || {
                    format!("{}.tensor_index", p())
                })?;
                self.budget
                    .charge(use_cost(&subgraphs[sub as usize].tensors[t as usize]), p)?;
                out.push((name, TensorId(t)));
            }
            Ok(out)
        };
        let inputs = maps(sig.inputs().at(path)?, "inputs")?;
        let outputs = maps(sig.outputs().at(path)?, "outputs")?;
        Ok(Signature {
            key,
            subgraph: SubgraphId(sub),
            inputs,
            outputs,
        })
    }
}

/// What one use of a tensor costs downstream: for every operand and every
/// I/O entry that names it, the analyses and reports copy or print its
/// name, shape and quantization (a snapshot builds them all into one
/// string). The loader charges this per use to the element budget, so that
/// a tensor with a long name, shape or scale list that thousands of ops
/// refer to (4 bytes per reference in the file) cannot make tflq allocate
/// gigabytes: a 1 MB file whose 2,000 ops all wrote one tensor with a 1 MB
/// name took 7.8 GB to snapshot. Every tensor of a converter's model is used
/// a few times, well inside the budget.
fn use_cost(t: &Tensor<'_>) -> usize {
    let quant = t.quantization.as_ref().map_or(0, |q| {
        q.scale.len() + q.zero_point.len() + q.min().len() + q.max().len()
    });
    t.name.len() + t.shape.len() + t.shape_signature.as_ref().map_or(0, |s| s.len()) + quant
}

fn runtime_version_string(bytes: &[u8]) -> Option<String> {
    // A fixed 16-byte field padded with NULs; anything longer is not one.
    let bytes = bytes.get(..bytes.len().min(64))?;
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let s = std::str::from_utf8(&bytes[..end]).ok()?;
    (!s.is_empty()).then(|| s.to_owned())
}

fn read_conversion(bytes: &[u8]) -> planus::Result<ConversionInfo> {
    let root = fb::ConversionMetadataRef::read_as_root(bytes)?;
    let mut info = ConversionInfo {
        tensorflow_version: None,
        model_type: None,
        optimization_modes: Vec::new(),
        enable_select_tf_ops: false,
        allow_custom_ops: false,
    };
    if let Some(env) = root.environment()? {
        info.tensorflow_version = env.tensorflow_version()?.map(str::to_owned);
        info.model_type = Some(model_type_name(env.model_type()?));
    }
    if let Some(opts) = root.options()? {
        if let Some(modes) = opts.model_optimization_modes()? {
            info.optimization_modes = modes.iter().take(64).map(optimization_mode_name).collect();
        }
        info.enable_select_tf_ops = opts.enable_select_tf_ops()?;
        info.allow_custom_ops = opts.allow_custom_ops()?;
    }
    Ok(info)
}
