//! Test photos made at run time, so that the test suites need no file from outside the
//! repository: a JPEG (or PNG) of any size with the EXIF a test asks for, EXIF damaged in the
//! ways phones and messaging apps damage it, the start of an HEIC file, and the way to the
//! real-phone corpus for the few tests that are about real cameras.
//!
//! ```
//! use fieldsync_server::testing::photo::TestPhoto;
//! // A phone photo taken in a Yinchuan village, turned on its side, unique to this test.
//! let jpeg = TestPhoto::new(64, 48)
//!     .seed(7)
//!     .gps(38.4680, 106.2719)
//!     .taken_at("2026:05:14 09:30:05", Some("+08:00"))
//!     .orientation(6)
//!     .camera("Xiaomi", "Redmi Note 12")
//!     .jpeg();
//! assert!(jpeg.starts_with(&[0xFF, 0xD8]));
//! ```
//!
//! Guarantees: the same builder gives the same bytes within one build (the encoder is
//! deterministic); two photos that differ only in [`TestPhoto::seed`] differ in their pixels
//! and in their bytes, so every seed names a different upload. Pixels are a cheap gradient
//! unless [`TestPhoto::textured`] asks for the noise of a real camera (larger files, slower).

use std::io::Cursor;
use std::path::{Path, PathBuf};

use exif::experimental::Writer;
use exif::{Field, In, Rational, Tag, Value};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{ImageEncoder, Rgb, RgbImage};

/// The setting that names the folder of real phone photos (`.ci/run` sets it to the corpus it is
/// given); without it the corpus tests skip, saying so.
pub const CORPUS_VAR: &str = "FIELDSYNC_TEST_PHOTOS";
/// Set to `1` (as `.ci/run` does) to make a missing corpus fail the tests that need it.
pub const REQUIRE_CORPUS_VAR: &str = "FIELDSYNC_TEST_REQUIRE_PHOTOS";

/// A photo to build. Every setter consumes and returns the builder; [`TestPhoto::jpeg`] and
/// [`TestPhoto::png`] make the bytes.
#[derive(Clone, Debug)]
pub struct TestPhoto {
    width: u32,
    height: u32,
    seed: u64,
    textured: bool,
    quality: u8,
    fields: Vec<Field>,
    raw_exif: Option<Vec<u8>>,
    exif_spill: u16,
    other_metadata: bool,
    trailer: usize,
}

impl Default for TestPhoto {
    /// 64 × 48 pixels, no EXIF.
    fn default() -> Self {
        TestPhoto::new(64, 48)
    }
}

impl TestPhoto {
    /// A photo of `width` × `height` pixels as stored (before any orientation), without EXIF.
    pub fn new(width: u32, height: u32) -> TestPhoto {
        TestPhoto {
            width: width.max(1),
            height: height.max(1),
            seed: 0,
            textured: false,
            quality: 90,
            fields: Vec::new(),
            raw_exif: None,
            exif_spill: 0,
            other_metadata: false,
            trailer: 0,
        }
    }

    /// Makes this photo's pixels and bytes differ from those of every other seed.
    pub fn seed(mut self, seed: u64) -> TestPhoto {
        self.seed = seed;
        self
    }

    /// Per-pixel noise, as a camera sensor gives: files the size of real photos (a 4032 × 3024
    /// one is a few MB), at the price of encoding time.
    pub fn textured(mut self) -> TestPhoto {
        self.textured = true;
        self
    }

    /// JPEG quality, 1–100 (default 90, as phone cameras).
    pub fn quality(mut self, quality: u8) -> TestPhoto {
        self.quality = quality.clamp(1, 100);
        self
    }

    /// Where the camera says the photo was taken: WGS-84 decimal degrees, south and west
    /// negative, written as EXIF does (degrees, minutes, seconds and a hemisphere letter).
    pub fn gps(mut self, lat: f64, lon: f64) -> TestPhoto {
        let (lat_ref, lon_ref) = (
            if lat < 0.0 { "S" } else { "N" },
            if lon < 0.0 { "W" } else { "E" },
        );
        self.fields.extend([
            ascii(Tag::GPSLatitudeRef, lat_ref),
            rationals(Tag::GPSLatitude, &dms(lat)),
            ascii(Tag::GPSLongitudeRef, lon_ref),
            rationals(Tag::GPSLongitude, &dms(lon)),
        ]);
        self
    }

    /// Metres above sea level (negative below), to the centimetre.
    pub fn altitude(mut self, metres: f64) -> TestPhoto {
        let below = u8::from(metres < 0.0);
        let cm = (metres.abs() * 100.0).round().min(f64::from(u32::MAX)) as u32;
        self.fields.extend([
            field(Tag::GPSAltitudeRef, Value::Byte(vec![below])),
            rationals(Tag::GPSAltitude, &[(cm, 100)]),
        ]);
        self
    }

    /// `DateTimeOriginal` as EXIF writes it (`"2026:05:14 09:30:05"`, local time) and, when
    /// given, `OffsetTimeOriginal` (`"+08:00"`).
    pub fn taken_at(mut self, local: &str, offset: Option<&str>) -> TestPhoto {
        self.fields.push(ascii(Tag::DateTimeOriginal, local));
        if let Some(offset) = offset {
            self.fields.push(ascii(Tag::OffsetTimeOriginal, offset));
        }
        self
    }

    /// EXIF orientation 1–8 (6: the phone was held upright, the pixels lie on their side).
    pub fn orientation(mut self, orientation: u16) -> TestPhoto {
        self.fields
            .push(field(Tag::Orientation, Value::Short(vec![orientation])));
        self
    }

    /// `Make` and `Model`.
    pub fn camera(mut self, make: &str, model: &str) -> TestPhoto {
        self.fields
            .extend([ascii(Tag::Make, make), ascii(Tag::Model, model)]);
        self
    }

    /// Any other EXIF field (of the primary image), e.g. a GPS value no phone should write.
    pub fn field(mut self, field: Field) -> TestPhoto {
        self.fields.push(field);
        self
    }

    /// Uses these bytes as the EXIF block (the TIFF structure after `Exif\0\0`) instead of one
    /// written from the fields: for damaged EXIF ([`damaged_exif`]).
    pub fn raw_exif(mut self, tiff: Vec<u8>) -> TestPhoto {
        self.raw_exif = Some(tiff);
        self
    }

    /// Makes the JPEG's EXIF segment `bytes` shorter than the block it holds, as some phone
    /// makers and messaging apps write it (the directory announces more entries than the
    /// segment has room for): the block's last `bytes` lie between two segments, where
    /// lenient decoders (libjpeg, jpeg-decoder) skip them, and the block is cut short.
    pub fn exif_spilling_out(mut self, bytes: u16) -> TestPhoto {
        self.exif_spill = bytes;
        self
    }

    /// Adds the other metadata phones write, which the server must drop, each holding a marker
    /// text: in a JPEG XMP (`xmpmeta`), IPTC (`8BIM`), MPF (`MPF\0`), a comment (`secret
    /// comment`) and a trailer after the end of the image (`SEFH`), plus an ICC profile
    /// (`ICC_PROFILE\0`, kept: it is colour); in a PNG `tEXt` (`secret`) and `tIME`, plus
    /// `sRGB` (kept).
    pub fn other_metadata(mut self) -> TestPhoto {
        self.other_metadata = true;
        self
    }

    /// Appends `bytes` of data after the end of the image, as Samsung trailers and motion
    /// photos do: a larger upload whose extra bytes are neither decoded nor stored.
    pub fn trailer(mut self, bytes: usize) -> TestPhoto {
        self.trailer = bytes;
        self
    }

    /// The EXIF block this photo carries (a TIFF structure), if any.
    pub fn exif(&self) -> Option<Vec<u8>> {
        if let Some(raw) = &self.raw_exif {
            return Some(raw.clone());
        }
        (!self.fields.is_empty()).then(|| exif_tiff(&self.fields))
    }

    /// The photo as a baseline JPEG: SOI, the EXIF segment, JFIF, then the encoder's tables
    /// and scan.
    pub fn jpeg(&self) -> Vec<u8> {
        let mut encoded = Vec::new();
        JpegEncoder::new_with_quality(&mut encoded, self.quality)
            .encode_image(&self.pixels())
            .expect("encoding a JPEG in memory cannot fail");
        let mut out = encoded[..2].to_vec();
        if let Some(tiff) = self.exif() {
            let mut exif = segment(0xE1, &[&b"Exif\0\0"[..], &tiff].concat());
            let len = u16::from_be_bytes([exif[2], exif[3]]).saturating_sub(self.exif_spill);
            exif[2..4].copy_from_slice(&len.max(2).to_be_bytes());
            out.extend(exif);
        }
        if self.other_metadata {
            out.extend(segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>"));
            out.extend(segment(0xED, b"Photoshop 3.0\08BIM"));
            out.extend(segment(0xE2, b"ICC_PROFILE\0\x01\x01fake-profile"));
            out.extend(segment(0xE2, b"MPF\0secondary images"));
            out.extend(segment(0xFE, b"secret comment"));
        }
        // The seed in a comment as well: distinct bytes even where pixels coincide.
        out.extend(segment(
            0xFE,
            format!("test photo {}", self.seed).as_bytes(),
        ));
        out.extend_from_slice(&encoded[2..]);
        if self.other_metadata {
            out.extend_from_slice(b"SEFHtrailer with secret data");
        }
        out.extend(noise(self.seed, self.trailer));
        out
    }

    /// The photo as an RGBA PNG (the left half transparent), with the EXIF block in an `eXIf`
    /// chunk and, with [`TestPhoto::other_metadata`], `tEXt` and `tIME` chunks.
    pub fn png(&self) -> Vec<u8> {
        let (w, h) = (self.width, self.height);
        let rgb = self.pixels();
        let rgba = image::RgbaImage::from_fn(w, h, |x, y| {
            let [r, g, b] = rgb.get_pixel(x, y).0;
            image::Rgba([r, g, b, if x < w / 2 { 0 } else { 255 }])
        });
        let mut encoded = Vec::new();
        PngEncoder::new(&mut encoded)
            .write_image(&rgba, w, h, image::ExtendedColorType::Rgba8)
            .expect("encoding a PNG in memory cannot fail");
        // Signature (8) and IHDR (25); what phones add goes right after.
        let ihdr_end = 33;
        let mut out = encoded[..ihdr_end].to_vec();
        if let Some(tiff) = self.exif() {
            out.extend(png_chunk(b"eXIf", &tiff));
        }
        if self.other_metadata {
            out.extend(png_chunk(b"tEXt", b"Comment\0secret"));
            out.extend(png_chunk(b"tIME", &[7, 234, 11, 28, 9, 30, 5]));
            out.extend(png_chunk(b"sRGB", &[0]));
        }
        out.extend(png_chunk(
            b"tEXt",
            format!("Seed\0{}", self.seed).as_bytes(),
        ));
        out.extend_from_slice(&encoded[ihdr_end..]);
        out
    }

    /// Writes [`TestPhoto::jpeg`] to `path` and returns the path.
    pub fn write_jpeg(&self, path: &Path) -> std::io::Result<PathBuf> {
        std::fs::write(path, self.jpeg())?;
        Ok(path.to_owned())
    }

    fn pixels(&self) -> RgbImage {
        let (w, h) = (self.width, self.height);
        let base = splitmix(self.seed).to_le_bytes();
        let mut rng = splitmix(self.seed ^ 0x5EED);
        RgbImage::from_fn(w, h, |x, y| {
            let gx = (u64::from(x) * 255 / u64::from(w)) as u8;
            let gy = (u64::from(y) * 255 / u64::from(h)) as u8;
            let mut px = [
                gx.wrapping_add(base[0]),
                gy.wrapping_add(base[1]),
                gx.wrapping_add(gy).wrapping_add(base[2]),
            ];
            if self.textured {
                rng = splitmix(rng);
                for (c, n) in px.iter_mut().zip(rng.to_le_bytes()) {
                    *c = c.wrapping_add(n >> 3);
                }
            }
            Rgb(px)
        })
    }
}

/// A TIFF structure (what follows `Exif\0\0`) holding `fields`, written by kamadak-exif.
pub fn exif_tiff(fields: &[Field]) -> Vec<u8> {
    let mut writer = Writer::new();
    for f in fields {
        writer.push_field(f);
    }
    let mut out = Cursor::new(Vec::new());
    writer
        .write(&mut out, false)
        .expect("test EXIF fields should be writable");
    out.into_inner()
}

/// How an EXIF block can be broken. Before the damage each holds a readable orientation (6),
/// and `CountPastEnd` and `Loop` a whole GPS fix (38°28′ N, 106°16′ E) too: a reader that keeps
/// what it could parse shows them, one that drops the block shows neither.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExifDamage {
    /// The first directory announces 300 entries in a block that has room for a few.
    CountPastEnd,
    /// The first directory's "next directory" offset points back at itself.
    Loop,
    /// The latitude's value lies at an offset far outside the block.
    OffsetOutside,
    /// The block stops in the middle of the GPS directory.
    CutShort,
}

impl ExifDamage {
    pub const ALL: [ExifDamage; 4] = [
        ExifDamage::CountPastEnd,
        ExifDamage::Loop,
        ExifDamage::OffsetOutside,
        ExifDamage::CutShort,
    ];
}

/// An EXIF block (big-endian TIFF) broken as `damage` says; give it to [`TestPhoto::raw_exif`].
pub fn damaged_exif(damage: ExifDamage) -> Vec<u8> {
    // IFD0 at 8: Orientation = 6 and the GPS pointer (to 38); GPS IFD at 38: four entries,
    // their rationals at 92 (latitude) and 116 (longitude); 140 bytes in all.
    let entry = |tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        let mut e = tag.to_be_bytes().to_vec();
        e.extend_from_slice(&kind.to_be_bytes());
        e.extend_from_slice(&count.to_be_bytes());
        e.extend_from_slice(&value);
        e
    };
    let (short, long, ascii, rational) = (3, 4, 2, 5);
    let mut t = b"MM\0\x2A\0\0\0\x08".to_vec();
    t.extend_from_slice(&2u16.to_be_bytes());
    t.extend(entry(0x0112, short, 1, [0, 6, 0, 0]));
    t.extend(entry(0x8825, long, 1, 38u32.to_be_bytes()));
    t.extend_from_slice(&0u32.to_be_bytes());
    t.extend_from_slice(&4u16.to_be_bytes());
    t.extend(entry(0x0001, ascii, 2, *b"N\0\0\0"));
    t.extend(entry(0x0002, rational, 3, 92u32.to_be_bytes()));
    t.extend(entry(0x0003, ascii, 2, *b"E\0\0\0"));
    t.extend(entry(0x0004, rational, 3, 116u32.to_be_bytes()));
    t.extend_from_slice(&0u32.to_be_bytes());
    for (num, den) in [(38u32, 1u32), (28, 1), (0, 1), (106, 1), (16, 1), (0, 1)] {
        t.extend_from_slice(&num.to_be_bytes());
        t.extend_from_slice(&den.to_be_bytes());
    }
    debug_assert_eq!(t.len(), 140);
    match damage {
        ExifDamage::CountPastEnd => t[8..10].copy_from_slice(&300u16.to_be_bytes()),
        ExifDamage::Loop => t[34..38].copy_from_slice(&8u32.to_be_bytes()),
        ExifDamage::OffsetOutside => t[60..64].copy_from_slice(&0x7FFF_0000u32.to_be_bytes()),
        ExifDamage::CutShort => t.truncate(60),
    }
    t
}

/// The first bytes of an iPhone HEIC photo (an ISO-BMFF `ftyp` box of brand `heic`, then the
/// start of its `meta` box): what the server must refuse by name. Not a decodable image.
pub fn heic() -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&24u32.to_be_bytes());
    out.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    out.extend_from_slice(&40u32.to_be_bytes());
    out.extend_from_slice(b"meta\0\0\0\0");
    out.extend(noise(0x4E1C, 4096));
    out
}

/// The folder of real phone photos that `FIELDSYNC_TEST_PHOTOS` names (an absolute path), for
/// tests about real cameras. When it is not set the test should return: this says so on
/// stderr, or panics when `FIELDSYNC_TEST_REQUIRE_PHOTOS=1` (CI) says the corpus must be there.
/// A setting that names no folder always panics: a typo must not pass as a skip.
pub fn corpus(test: &str) -> Option<PathBuf> {
    let required = std::env::var(REQUIRE_CORPUS_VAR).is_ok_and(|v| v == "1");
    match std::env::var_os(CORPUS_VAR).filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            assert!(
                dir.is_absolute(),
                "{CORPUS_VAR}={} must be an absolute path: tests run in their crate's folder",
                dir.display()
            );
            assert!(
                dir.is_dir(),
                "{CORPUS_VAR}={} is not a folder (it should hold the real-phone photos)",
                dir.display()
            );
            Some(dir)
        }
        None => {
            assert!(
                !required,
                "{test}: {CORPUS_VAR} is not set and {REQUIRE_CORPUS_VAR}=1 says it must be"
            );
            eprintln!(
                "{test} skipped: {CORPUS_VAR} is not set (the folder of real-phone photos; \
                 .ci/run sets it)"
            );
            None
        }
    }
}

/// One photo of the corpus, read whole.
pub fn corpus_file(dir: &Path, name: &str) -> Vec<u8> {
    let path = dir.join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len() + 2).expect("a JPEG segment holds at most 64 KiB");
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&len.to_be_bytes());
    s.extend_from_slice(payload);
    s
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let len = u32::try_from(data.len()).expect("a test chunk is small");
    let mut c = len.to_be_bytes().to_vec();
    c.extend_from_slice(kind);
    c.extend_from_slice(data);
    let crc = crate::blobs::photo::crc32(&c[4..]);
    c.extend_from_slice(&crc.to_be_bytes());
    c
}

/// A field of the primary image, for [`TestPhoto::field`].
pub fn field(tag: Tag, value: Value) -> Field {
    Field {
        tag,
        ifd_num: In::PRIMARY,
        value,
    }
}

/// An ASCII field of the primary image, for [`TestPhoto::field`].
pub fn ascii(tag: Tag, text: &str) -> Field {
    field(tag, Value::Ascii(vec![text.as_bytes().to_vec()]))
}

/// A field of rationals (numerator, denominator) of the primary image, for [`TestPhoto::field`].
pub fn rationals(tag: Tag, values: &[(u32, u32)]) -> Field {
    let v = values
        .iter()
        .map(|&(num, denom)| Rational { num, denom })
        .collect();
    field(tag, Value::Rational(v))
}

/// Degrees, minutes and seconds (to 1/10 000 s, a few millimetres) of `|degrees|`.
fn dms(degrees: f64) -> [(u32, u32); 3] {
    let a = degrees.abs().min(180.0);
    let d = a.floor();
    let m = ((a - d) * 60.0).floor();
    let s = ((a - d) * 60.0 - m) * 60.0;
    [
        (d as u32, 1),
        (m as u32, 1),
        ((s * 10_000.0).round() as u32, 10_000),
    ]
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `n` pseudo-random bytes from `seed`.
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        state = splitmix(state);
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(n);
    out
}
