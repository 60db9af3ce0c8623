//! Photo intake: recognise, check, strip and thumbnail the evidence photos phones upload.
//!
//! Two steps with two budgets. [`inspect`] runs on the request path, so it reads only the
//! container structure (JPEG segments, PNG chunks) and never pixels: it names unsupported formats,
//! rejects decompression bombs from the header and notices uploads that stop before the image's
//! end marker. [`process`] runs off the request path: it reads EXIF, decodes under memory limits
//! and writes two files:
//! - the original without its metadata, copied segment by segment and never re-encoded (no
//!   quality loss, and the evidence pixels stay the phone's own). It keeps what decoding and
//!   colour need (tables, scans, JFIF, ICC profile, Adobe colour transform) and drops everything
//!   else, including data after the end marker (Samsung trailers, motion-photo videos). A rotated
//!   photo gets a new EXIF block holding only its orientation, so viewers still turn it upright;
//! - a small JPEG thumbnail, orientation applied.
//!
//! No input panics, and broken EXIF never fails a photo: a block that does not parse whole is
//! dropped whole (no GPS, no time, orientation 1: a half-read block could turn the photo or
//! place it wrongly), and [`Processed::metadata`] says it was unreadable.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek};
use std::ops::Range;
use std::path::Path;

use exif::{Exif, In, Tag, Value};
pub use fieldsync_protocol::blob::PhotoMetadata;
use image::codecs::jpeg::JpegEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageError, ImageReader, Rgb, RgbImage};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{PrimitiveDateTime, UtcOffset};

/// The formats the server accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
        }
    }

    fn image_format(self) -> image::ImageFormat {
        match self {
            Format::Jpeg => image::ImageFormat::Jpeg,
            Format::Png => image::ImageFormat::Png,
        }
    }
}

/// How big a photo may be; the defaults fit 48-MP phone cameras with room to spare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Width × height above this is refused from the header. Default 64 000 000.
    pub max_pixels: u64,
    /// The most the decoder may allocate. Default 512 MiB (64 MP of 16-bit RGBA).
    pub max_alloc_bytes: u64,
    /// The thumbnail's longest side. Default 320; smaller photos are not enlarged.
    pub thumb_px: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pixels: 64_000_000,
            max_alloc_bytes: 512 * 1024 * 1024,
            thumb_px: 320,
        }
    }
}

/// What [`inspect`] learnt from the header: size as stored, before EXIF orientation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inspection {
    pub format: Format,
    pub width: u32,
    pub height: u32,
}

/// Where the photo says it was taken: WGS-84 decimal degrees, south and west negative.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExifGps {
    pub lat: f64,
    pub lon: f64,
    /// Metres above sea level (negative below).
    pub altitude_m: Option<f64>,
}

/// The result of [`process`].
#[derive(Clone, Debug, PartialEq)]
pub struct Processed {
    pub format: Format,
    /// As displayed: EXIF orientation applied.
    pub width: u32,
    pub height: u32,
    /// EXIF orientation 1..=8; 1 when absent or invalid.
    pub orientation: u16,
    pub gps: Option<ExifGps>,
    /// RFC 3339 when the photo records its UTC offset, else local `YYYY-MM-DDTHH:MM:SS`.
    pub taken_at: Option<String>,
    /// Make and model, e.g. "Apple iPhone 6".
    pub camera: Option<String>,
    /// Whether the EXIF was read, absent, or unreadable (and so ignored).
    pub metadata: PhotoMetadata,
    pub stripped_bytes: u64,
    pub thumb_bytes: u64,
}

/// Why a photo cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("unsupported image format ({0}): send JPEG or PNG; HEIC photos must be sent as JPEG")]
    Unsupported(String),
    #[error("image is {width}×{height} pixels, too large to process (limit {max} pixels)")]
    TooManyPixels { width: u32, height: u32, max: u64 },
    #[error("image file is truncated: it ends before the image does")]
    Truncated,
    #[error("image is corrupt: {0}")]
    Corrupt(String),
    #[error("reading or writing the image failed: {0}")]
    Io(#[from] io::Error),
}

impl PhotoError {
    /// The stable code the phone sees.
    pub fn code(&self) -> &'static str {
        match self {
            PhotoError::Unsupported(_) => "unsupported_format",
            PhotoError::TooManyPixels { .. } => "too_many_pixels",
            PhotoError::Truncated => "truncated",
            PhotoError::Corrupt(_) => "corrupt",
            PhotoError::Io(_) => "io",
        }
    }
}

/// Tells the format from the first bytes (16 are enough), naming common refused formats.
pub fn sniff(head: &[u8]) -> Result<Format, PhotoError> {
    let unsupported = |name: &str| Err(PhotoError::Unsupported(name.to_owned()));
    match head {
        [0xFF, 0xD8, 0xFF, ..] => Ok(Format::Jpeg),
        [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n', ..] => Ok(Format::Png),
        [] => unsupported("empty"),
        [b'G', b'I', b'F', b'8', ..] => unsupported("gif"),
        [b'R', b'I', b'F', b'F', _, _, _, _, rest @ ..] if rest.starts_with(b"WEBP") => {
            unsupported("webp")
        }
        [b'I', b'I', 42, 0, ..] | [b'M', b'M', 0, 42, ..] => unsupported("tiff"),
        [b'B', b'M', ..] => unsupported("bmp"),
        // ISO base media files (HEIF, AVIF, MP4) say what they are in the `ftyp` box's brand.
        [_, _, _, _, b'f', b't', b'y', b'p', brand @ ..] => match brand.get(..4) {
            Some(b"avif" | b"avis") => unsupported("avif"),
            Some(b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1") => {
                unsupported("heic")
            }
            _ => unsupported("unknown"),
        },
        _ => unsupported("unknown"),
    }
}

/// Checks a stored upload cheaply: format, size from the header, and that the image's end
/// marker (JPEG EOI, PNG IEND) is present. Reads the structure, never decodes pixels (about
/// 1.5 ms for a 2 MB JPEG, which must be scanned for its end). Blocking file IO.
pub fn inspect(path: &Path, limits: &Limits) -> Result<Inspection, PhotoError> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let layout = scan(BufReader::new(file), len, limits)?;
    Ok(layout.inspection)
}

/// Reads EXIF, writes the stripped original and a JPEG thumbnail.
///
/// CPU-bound and blocking (tens of milliseconds for a 12-MP photo): run it on a blocking
/// thread. It holds the file in memory once, so the upload size limit bounds its memory along
/// with `max_alloc_bytes`. Outputs are written only after everything else succeeded; a failed
/// write may leave them half-written, so callers point them at temporary paths and rename.
pub fn process(
    input: &Path,
    original_out: &Path,
    thumb_out: &Path,
    limits: &Limits,
) -> Result<Processed, PhotoError> {
    let mut file = File::open(input)?;
    let len = file.metadata()?.len();
    // The header check comes first so a bomb is refused before the file is even read whole.
    let layout = scan(BufReader::new(&mut file), len, limits)?;
    file.rewind()?;
    // Only up to the end of the image: whatever a camera appends after it (a motion-photo
    // video, padding) is neither decoded nor kept, so it need not be read either.
    let image_end = layout.parts.last().map_or(len, |p| p.end);
    let mut bytes = Vec::new();
    file.take(image_end).read_to_end(&mut bytes)?;
    let Inspection {
        format,
        width,
        height,
    } = layout.inspection;

    let meta = read_exif(exif_block(&bytes, format, &layout.parts));
    let image = match format {
        Format::Jpeg => decode_jpeg_scaled(&bytes, &layout.inspection, limits)?,
        Format::Png => decode(&bytes, &layout.inspection, limits)?,
    };
    let thumb = thumbnail(&image, meta.orientation, limits.thumb_px)?;
    drop(image);
    let stripped = match format {
        Format::Jpeg => strip_jpeg(&bytes, &layout.parts, meta.orientation),
        Format::Png => strip_png(&bytes, &layout.parts, meta.orientation),
    };
    std::fs::write(original_out, &stripped)?;
    std::fs::write(thumb_out, &thumb)?;

    let (width, height) = if meta.orientation >= 5 {
        (height, width)
    } else {
        (width, height)
    };
    Ok(Processed {
        format,
        width,
        height,
        orientation: meta.orientation,
        gps: meta.gps,
        taken_at: meta.taken_at,
        camera: meta.camera,
        metadata: meta.metadata,
        stripped_bytes: stripped.len() as u64,
        thumb_bytes: thumb.len() as u64,
    })
}

// ---- Container structure -------------------------------------------------------------------

/// The header facts plus where each JPEG segment or PNG chunk lies (marker or length field
/// through the end of its data; a JPEG scan includes its entropy-coded data).
struct Layout {
    inspection: Inspection,
    parts: Vec<Range<u64>>,
}

fn scan<R: BufRead + Seek>(reader: R, len: u64, limits: &Limits) -> Result<Layout, PhotoError> {
    let mut walker = Walker {
        reader,
        pos: 0,
        len,
    };
    let mut head = Vec::with_capacity(16);
    walker.reader.by_ref().take(16).read_to_end(&mut head)?;
    let format = sniff(&head)?;
    walker.reader.rewind()?;
    let (width, height, parts) = match format {
        Format::Jpeg => scan_jpeg(&mut walker, limits)?,
        Format::Png => scan_png(&mut walker, limits)?,
    };
    Ok(Layout {
        inspection: Inspection {
            format,
            width,
            height,
        },
        parts,
    })
}

/// Walks a JPEG's segments to the EOI marker. Anything after EOI is ignored (and not copied).
fn scan_jpeg<R: BufRead + Seek>(
    w: &mut Walker<R>,
    limits: &Limits,
) -> Result<(u32, u32, Vec<Range<u64>>), PhotoError> {
    w.skip(2)?; // checked by sniff
    let mut parts = Vec::new();
    parts.push(0..2); // SOI
    let mut size = None;
    let mut marker = w.marker()?;
    loop {
        let start = w.pos - 2;
        match marker {
            0xD9 => {
                parts.push(start..w.pos);
                break;
            }
            // Restart and TEM markers stand alone, without a length.
            0xD0..=0xD7 | 0x01 => {
                parts.push(start..w.pos);
                marker = w.marker()?;
                continue;
            }
            _ => {}
        }
        let body = u64::from(u16::from_be_bytes(w.read()?))
            .checked_sub(2)
            .ok_or_else(|| corrupt("JPEG segment length below 2"))?;
        let is_frame = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_frame && size.is_none() {
            let [_precision, h1, h0, w1, w0] = w.read()?;
            let (width, height) = (
                u32::from(u16::from_be_bytes([w1, w0])),
                u32::from(u16::from_be_bytes([h1, h0])),
            );
            check_size(width, height, limits)?;
            size = Some((width, height));
            w.skip(
                body.checked_sub(5)
                    .ok_or_else(|| corrupt("JPEG frame header too short"))?,
            )?;
        } else {
            w.skip(body)?;
        }
        if marker == 0xDA {
            if size.is_none() {
                return Err(corrupt("JPEG scan before its frame header"));
            }
            marker = w.skip_entropy_coded()?;
            parts.push(start..w.pos - 2);
        } else if matches!(marker, 0xE0..=0xEF | 0xFE) {
            parts.push(start..w.pos);
            marker = w.marker_after_metadata()?;
        } else {
            parts.push(start..w.pos);
            marker = w.marker()?;
        }
    }
    let (width, height) = size.ok_or_else(|| corrupt("JPEG without a frame header"))?;
    Ok((width, height, parts))
}

/// Walks a PNG's chunks to IEND. Anything after IEND is ignored (and not copied).
fn scan_png<R: BufRead + Seek>(
    w: &mut Walker<R>,
    limits: &Limits,
) -> Result<(u32, u32, Vec<Range<u64>>), PhotoError> {
    w.skip(8)?; // signature, checked by sniff
    let mut parts = Vec::new();
    let mut size = None;
    loop {
        let start = w.pos;
        let [l0, l1, l2, l3, k0, k1, k2, k3] = w.read()?;
        let body = u32::from_be_bytes([l0, l1, l2, l3]);
        let kind = [k0, k1, k2, k3];
        if body > 0x7FFF_FFFF {
            return Err(corrupt("PNG chunk length over 2^31"));
        }
        if size.is_none() {
            if &kind != b"IHDR" || body != 13 {
                return Err(corrupt("PNG does not start with IHDR"));
            }
            let [w0, w1, w2, w3, h0, h1, h2, h3, ..] = w.read::<13>()?;
            let (width, height) = (
                u32::from_be_bytes([w0, w1, w2, w3]),
                u32::from_be_bytes([h0, h1, h2, h3]),
            );
            check_size(width, height, limits)?;
            size = Some((width, height));
            w.skip(4)?; // CRC
        } else {
            w.skip(u64::from(body) + 4)?;
        }
        parts.push(start..w.pos);
        if &kind == b"IEND" {
            break;
        }
    }
    let (width, height) = size.ok_or_else(|| corrupt("PNG without IHDR"))?;
    Ok((width, height, parts))
}

fn check_size(width: u32, height: u32, limits: &Limits) -> Result<(), PhotoError> {
    if width == 0 || height == 0 {
        return Err(corrupt("image has no pixels (width or height 0)"));
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(PhotoError::TooManyPixels {
            width,
            height,
            max: limits.max_pixels,
        });
    }
    Ok(())
}

/// Reads a file's structure knowing its length, so a part claiming to run past the end is
/// reported as truncation rather than a seek into nothing.
struct Walker<R> {
    reader: R,
    pos: u64,
    len: u64,
}

impl<R: BufRead + Seek> Walker<R> {
    fn read<const N: usize>(&mut self) -> Result<[u8; N], PhotoError> {
        let mut bytes = [0; N];
        self.reader
            .read_exact(&mut bytes)
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => PhotoError::Truncated,
                _ => PhotoError::Io(e),
            })?;
        self.pos += N as u64;
        Ok(bytes)
    }

    fn skip(&mut self, n: u64) -> Result<(), PhotoError> {
        if n > self.len.saturating_sub(self.pos) {
            return Err(PhotoError::Truncated);
        }
        // `n` is at most a file length, far below i64::MAX.
        self.reader
            .seek_relative(i64::try_from(n).map_err(|_| PhotoError::Truncated)?)?;
        self.pos += n;
        Ok(())
    }

    /// Reads `FF xx` (with any fill `FF`s) and returns `xx`.
    fn marker(&mut self) -> Result<u8, PhotoError> {
        let at = self.pos;
        if self.read::<1>()? != [0xFF] {
            return Err(PhotoError::Corrupt(format!(
                "expected a JPEG marker at byte {at}"
            )));
        }
        loop {
            match self.read::<1>()? {
                [0xFF] => continue,
                [0x00] => {
                    return Err(PhotoError::Corrupt(format!(
                        "invalid JPEG marker at byte {at}"
                    )));
                }
                [m] => return Ok(m),
            }
        }
    }

    /// The marker after a metadata segment (APPn, COM), skipping bytes that lie outside any
    /// segment, as libjpeg and jpeg-decoder do: an EXIF block longer than its segment's length
    /// (a directory announcing more entries than the segment holds, as some phones and
    /// messaging apps write) leaves its end here, and the pixels are fine. No more than a
    /// segment's worth is skipped; the bytes skipped are in no part, so never stored.
    fn marker_after_metadata(&mut self) -> Result<u8, PhotoError> {
        let start = self.pos;
        loop {
            if self.pos - start > 0xFFFF {
                return Err(PhotoError::Corrupt(format!(
                    "no JPEG marker in the 64 KiB after byte {start}"
                )));
            }
            if self.read::<1>()? != [0xFF] {
                continue;
            }
            loop {
                match self.read::<1>()? {
                    [0xFF] => continue,
                    // A stuffed zero is data, not a marker.
                    [0x00] => break,
                    [m] => return Ok(m),
                }
            }
        }
    }

    /// Skips a scan's entropy-coded data and returns the marker that ends it. Inside the data an
    /// `FF` is followed by `00` (a stuffed byte) or a restart marker; anything else ends it.
    fn skip_entropy_coded(&mut self) -> Result<u8, PhotoError> {
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                return Err(PhotoError::Truncated);
            }
            let (n, found) = match buf.iter().position(|&b| b == 0xFF) {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            self.reader.consume(n);
            self.pos += n as u64;
            if found {
                let mut next = self.read::<1>()?[0];
                while next == 0xFF {
                    next = self.read::<1>()?[0];
                }
                if !matches!(next, 0x00 | 0xD0..=0xD7) {
                    return Ok(next);
                }
            }
        }
    }
}

fn corrupt(why: &str) -> PhotoError {
    PhotoError::Corrupt(why.to_owned())
}

// ---- Stripping -----------------------------------------------------------------------------

/// Copies the segments a decoder needs, plus JFIF, the ICC profile and Adobe's colour-transform
/// flag (without it some JPEGs decode with wrong colours). An allow-list, so metadata a future
/// phone invents is dropped too.
fn strip_jpeg(bytes: &[u8], parts: &[Range<u64>], orientation: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rotation_pending = orientation != 1;
    for segment in parts.iter().filter_map(|r| slice(bytes, r)) {
        let marker = segment.get(1).copied().unwrap_or(0);
        let payload = segment.get(4..).unwrap_or_default();
        let keep = match marker {
            0xE0 => payload.starts_with(b"JFIF\0"),
            0xE2 => payload.starts_with(b"ICC_PROFILE\0"),
            0xEE => payload.starts_with(b"Adobe"),
            // Frames, tables, scans, restarts, SOI and EOI; C8 (JPG) is a reserved extension.
            0xC0..=0xC7 | 0xC9..=0xDF => true,
            // EXIF, XMP, IPTC, MPF, maker APPn, comments and reserved markers.
            _ => false,
        };
        // EXIF belongs right after SOI, or after JFIF when there is one.
        if rotation_pending && marker != 0xD8 && !(marker == 0xE0 && keep) {
            out.extend_from_slice(&[0xFF, 0xE1, 0, 34]);
            out.extend_from_slice(b"Exif\0\0");
            out.extend_from_slice(&orientation_tiff(orientation));
            rotation_pending = false;
        }
        if keep {
            out.extend_from_slice(segment);
        }
    }
    out
}

/// Copies the chunks that define the pixels and their colour; text, time, EXIF and private
/// chunks go (as do APNG animation chunks: evidence is a still photo).
fn strip_png(bytes: &[u8], parts: &[Range<u64>], orientation: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(bytes.get(..8).unwrap_or_default());
    for chunk in parts.iter().filter_map(|r| slice(bytes, r)) {
        let kind = chunk.get(4..8).unwrap_or_default();
        let keep = matches!(
            kind,
            b"IHDR"
                | b"PLTE"
                | b"IDAT"
                | b"IEND"
                | b"tRNS"
                | b"cHRM"
                | b"gAMA"
                | b"iCCP"
                | b"sBIT"
                | b"sRGB"
                | b"cICP"
                | b"mDCv"
                | b"cLLi"
                | b"bKGD"
                | b"pHYs"
        );
        if keep {
            out.extend_from_slice(chunk);
        }
        // eXIf must come before IDAT; right after IHDR is simplest.
        if kind == b"IHDR" && orientation != 1 {
            let tiff = orientation_tiff(orientation);
            out.extend_from_slice(&(tiff.len() as u32).to_be_bytes());
            let start = out.len();
            out.extend_from_slice(b"eXIf");
            out.extend_from_slice(&tiff);
            let crc = crc32(&out[start..]);
            out.extend_from_slice(&crc.to_be_bytes());
        }
    }
    out
}

fn slice<'a>(bytes: &'a [u8], range: &Range<u64>) -> Option<&'a [u8]> {
    let start = usize::try_from(range.start).ok()?;
    let end = usize::try_from(range.end).ok()?;
    bytes.get(start..end)
}

/// A big-endian TIFF header with one IFD holding one tag: Orientation (0x0112, SHORT).
fn orientation_tiff(orientation: u16) -> [u8; 26] {
    let [hi, lo] = orientation.to_be_bytes();
    #[rustfmt::skip]
    let tiff = [
        b'M', b'M', 0, 42, 0, 0, 0, 8, // header, IFD0 at offset 8
        0, 1,                          // one entry
        0x01, 0x12, 0, 3, 0, 0, 0, 1, hi, lo, 0, 0, // Orientation, SHORT, count 1, value
        0, 0, 0, 0,                    // no next IFD
    ];
    tiff
}

/// CRC-32 (ISO 3309) as PNG chunks need; only a few bytes are ever hashed, so no table.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

// ---- Pixels --------------------------------------------------------------------------------

fn decode(bytes: &[u8], header: &Inspection, limits: &Limits) -> Result<DynamicImage, PhotoError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), header.format.image_format());
    let side = u32::try_from(limits.max_pixels).unwrap_or(u32::MAX);
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_image_width = Some(side);
    decoder_limits.max_image_height = Some(side);
    decoder_limits.max_alloc = Some(limits.max_alloc_bytes);
    reader.limits(decoder_limits);
    reader.decode().map_err(|e| match e {
        // Within the pixel count but over the memory budget (16-bit RGBA): too big all the same.
        ImageError::Limits(_) => PhotoError::TooManyPixels {
            width: header.width,
            height: header.height,
            max: limits.max_pixels,
        },
        ImageError::IoError(e) if e.kind() == io::ErrorKind::UnexpectedEof => PhotoError::Truncated,
        ImageError::IoError(e) => PhotoError::Io(e),
        other => PhotoError::Corrupt(other.to_string()),
    })
}

/// Decodes a JPEG at the smallest IDCT scale (1/1, 1/2, 1/4 or 1/8) that still gives the
/// thumbnail its full size: a 12-MP photo decodes to 504 × 378 in a fraction of the time and
/// memory of a full decode, and every coefficient is still read, so a corrupt scan is still an
/// error.
fn decode_jpeg_scaled(
    bytes: &[u8],
    header: &Inspection,
    limits: &Limits,
) -> Result<DynamicImage, PhotoError> {
    use jpeg_decoder::{Decoder, PixelFormat};
    let corrupt = |e: jpeg_decoder::Error| match e {
        jpeg_decoder::Error::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            PhotoError::Truncated
        }
        jpeg_decoder::Error::Io(e) => PhotoError::Io(e),
        jpeg_decoder::Error::Unsupported(u) => PhotoError::Corrupt(format!("{u:?}")),
        other => PhotoError::Corrupt(other.to_string()),
    };
    let too_big = || PhotoError::TooManyPixels {
        width: header.width,
        height: header.height,
        max: limits.max_pixels,
    };
    let mut decoder = Decoder::new(Cursor::new(bytes));
    decoder.set_max_decoding_buffer_size(
        usize::try_from(limits.max_alloc_bytes).unwrap_or(usize::MAX),
    );
    decoder.read_info().map_err(corrupt)?;
    let side = u16::try_from(limits.thumb_px).unwrap_or(u16::MAX);
    let (width, height) = decoder.scale(side, side).map_err(corrupt)?;
    let pixels = decoder.decode().map_err(|e| match e {
        // The crate reports its buffer limit only as this message.
        jpeg_decoder::Error::Format(m) if m.contains("exceeds maximum allowed size") => too_big(),
        other => corrupt(other),
    })?;
    let format = decoder.info().map(|i| i.pixel_format);
    let (w, h) = (u32::from(width), u32::from(height));
    let image = match format {
        Some(PixelFormat::RGB24) => RgbImage::from_raw(w, h, pixels).map(DynamicImage::ImageRgb8),
        Some(PixelFormat::L8) => {
            image::GrayImage::from_raw(w, h, pixels).map(DynamicImage::ImageLuma8)
        }
        Some(PixelFormat::L16) => {
            let wide: Vec<u16> = pixels
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            image::ImageBuffer::from_raw(w, h, wide).map(DynamicImage::ImageLuma16)
        }
        Some(PixelFormat::CMYK32) => {
            // Adobe's inverted CMYK, as Photoshop writes it: the common case for CMYK JPEGs.
            let rgb: Vec<u8> = pixels
                .chunks_exact(4)
                .flat_map(|p| {
                    let k = u16::from(p[3]);
                    [0, 1, 2].map(|i| ((u16::from(p[i]) * k + 127) / 255) as u8)
                })
                .collect();
            RgbImage::from_raw(w, h, rgb).map(DynamicImage::ImageRgb8)
        }
        None => None,
    };
    image
        .ok_or_else(|| PhotoError::Corrupt("the decoded pixels do not fill the picture".to_owned()))
}

/// Scales so the longest side is `thumb_px` (never enlarging), then turns upright. Scaling first
/// keeps the rotation cheap; `thumbnail_exact` is a fast integer area average.
fn thumbnail(image: &DynamicImage, orientation: u16, thumb_px: u32) -> Result<Vec<u8>, PhotoError> {
    let (width, height) = (image.width(), image.height());
    let longest = width.max(height);
    let target = thumb_px.clamp(1, longest.max(1));
    let scale = |side: u32| {
        let scaled = (u64::from(side) * u64::from(target) + u64::from(longest) / 2)
            / u64::from(longest.max(1));
        u32::try_from(scaled).unwrap_or(target).max(1)
    };
    let mut small = if target == longest {
        image.clone()
    } else {
        image.thumbnail_exact(scale(width), scale(height))
    };
    if let Some(o) = u8::try_from(orientation)
        .ok()
        .and_then(Orientation::from_exif)
    {
        small.apply_orientation(o);
    }
    let rgb = if small.color().has_alpha() {
        // JPEG has no alpha: put transparent parts on white, not on whatever colour they hide.
        let rgba = small.to_rgba8();
        RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
            let [r, g, b, a] = rgba.get_pixel(x, y).0;
            let over_white = |c: u8| {
                ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a)) + 127) / 255) as u8
            };
            Rgb([over_white(r), over_white(g), over_white(b)])
        })
    } else {
        small.to_rgb8()
    };
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&rgb)
        .map_err(|e| PhotoError::Corrupt(format!("thumbnail encoding failed: {e}")))?;
    Ok(out)
}

// ---- EXIF ----------------------------------------------------------------------------------

struct Meta {
    orientation: u16,
    gps: Option<ExifGps>,
    taken_at: Option<String>,
    camera: Option<String>,
    metadata: PhotoMetadata,
}

impl Meta {
    fn nothing(metadata: PhotoMetadata) -> Meta {
        Meta {
            orientation: 1,
            gps: None,
            taken_at: None,
            camera: None,
            metadata,
        }
    }
}

/// The EXIF block (the TIFF structure) of the first `Exif` APP1 segment of a JPEG, or of a
/// PNG's `eXIf` chunk, found in the structure `scan` walked: the reader never walks the
/// container itself, so a container quirk cannot pass for damaged EXIF.
fn exif_block<'a>(bytes: &'a [u8], format: Format, parts: &[Range<u64>]) -> Option<&'a [u8]> {
    parts
        .iter()
        .filter_map(|r| slice(bytes, r))
        .find_map(|part| match format {
            // Marker (2), length (2), payload.
            Format::Jpeg if part.get(..2) == Some(&[0xFF, 0xE1]) => {
                part.get(4..)?.strip_prefix(b"Exif\0\0")
            }
            // Length (4), type (4), data, CRC (4).
            Format::Png if part.get(4..8) == Some(b"eXIf") => {
                part.get(8..part.len().checked_sub(4)?)
            }
            _ => None,
        })
}

/// Reads an EXIF block. Any defect in its structure makes the whole block unreadable: fields
/// parsed before the defect are as suspect as the rest (a count running past the end means
/// the writer was wrong about the directory), and a wrong orientation or position is worse
/// evidence than none.
fn read_exif(block: Option<&[u8]>) -> Meta {
    let Some(block) = block else {
        return Meta::nothing(PhotoMetadata::None);
    };
    let Ok(exif) = exif::Reader::new().read_raw(block.to_vec()) else {
        return Meta::nothing(PhotoMetadata::Unreadable);
    };
    let orientation = exif
        .get_field(Tag::Orientation, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .and_then(|o| u16::try_from(o).ok())
        .filter(|o| (1..=8).contains(o))
        .unwrap_or(1);
    Meta {
        orientation,
        gps: gps(&exif),
        taken_at: taken_at(&exif),
        camera: camera(&exif),
        metadata: PhotoMetadata::Read,
    }
}

fn gps(exif: &Exif) -> Option<ExifGps> {
    let lat = degrees(exif, Tag::GPSLatitude, Tag::GPSLatitudeRef, b'N', b'S')?;
    let lon = degrees(exif, Tag::GPSLongitude, Tag::GPSLongitudeRef, b'E', b'W')?;
    // Some phones write 0/0 when they had no fix; nobody collects evidence at (0, 0).
    if lat.abs() > 90.0 || lon.abs() > 180.0 || (lat == 0.0 && lon == 0.0) {
        return None;
    }
    let below_sea = exif
        .get_field(Tag::GPSAltitudeRef, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        == Some(1);
    let altitude_m = rationals(exif, Tag::GPSAltitude)
        .and_then(|v| v.first().copied())
        .map(|a| if below_sea { -a } else { a });
    Some(ExifGps {
        lat,
        lon,
        altitude_m,
    })
}

/// Degrees, minutes, seconds and a hemisphere letter as signed decimal degrees. Without the
/// hemisphere the sign is unknown, and a mirrored position is worse than none.
fn degrees(exif: &Exif, tag: Tag, hemisphere: Tag, positive: u8, negative: u8) -> Option<f64> {
    let dms = rationals(exif, tag)?;
    let value = match dms.as_slice() {
        [d, m, s, ..] => d + m / 60.0 + s / 3600.0,
        [d, m] => d + m / 60.0,
        [d] => *d,
        [] => return None,
    };
    match ascii(exif, hemisphere)?
        .as_bytes()
        .first()?
        .to_ascii_uppercase()
    {
        c if c == positive => Some(value),
        c if c == negative => Some(-value),
        _ => None,
    }
}

/// Rational values as `f64`; `None` when any has a zero denominator.
fn rationals(exif: &Exif, tag: Tag) -> Option<Vec<f64>> {
    let values: Option<Vec<f64>> = match &exif.get_field(tag, In::PRIMARY)?.value {
        Value::Rational(v) => v
            .iter()
            .map(|r| (r.denom != 0).then(|| r.to_f64()))
            .collect(),
        Value::SRational(v) => v
            .iter()
            .map(|r| (r.denom != 0).then(|| r.to_f64()))
            .collect(),
        _ => None,
    };
    values.filter(|v| v.iter().all(|x| x.is_finite()))
}

/// An ASCII field, trimmed; `None` when missing or blank.
fn ascii(exif: &Exif, tag: Tag) -> Option<String> {
    let Value::Ascii(strings) = &exif.get_field(tag, In::PRIMARY)?.value else {
        return None;
    };
    let text = String::from_utf8_lossy(strings.first()?);
    let text = text.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    (!text.is_empty()).then(|| text.to_owned())
}

fn taken_at(exif: &Exif) -> Option<String> {
    let local = PrimitiveDateTime::parse(
        &ascii(exif, Tag::DateTimeOriginal)?,
        format_description!("[year]:[month]:[day] [hour]:[minute]:[second]"),
    )
    .ok()?;
    let offset = ascii(exif, Tag::OffsetTimeOriginal).and_then(|s| {
        UtcOffset::parse(
            &s,
            format_description!("[offset_hour sign:mandatory]:[offset_minute]"),
        )
        .ok()
    });
    match offset {
        Some(offset) => local.assume_offset(offset).format(&Rfc3339).ok(),
        None => local
            .format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]"
            ))
            .ok(),
    }
}

/// "Make Model", without repeating the make when the model already starts with it
/// ("NIKON CORPORATION" + "NIKON D300" gives "NIKON D300").
fn camera(exif: &Exif) -> Option<String> {
    match (ascii(exif, Tag::Make), ascii(exif, Tag::Model)) {
        (Some(make), Some(model)) => {
            let brand = make
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_lowercase();
            if model.to_lowercase().starts_with(&brand) {
                Some(model)
            } else {
                Some(format!("{make} {model}"))
            }
        }
        (make, model) => make.or(model),
    }
}

#[cfg(test)]
#[path = "photo_tests.rs"]
mod tests;
