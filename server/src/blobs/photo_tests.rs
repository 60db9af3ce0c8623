//! Photo intake on the real phone photos of `shared/data/photos` and on hostile files built here.

use std::path::PathBuf;

use exif::experimental::Writer;
use exif::{Field, Rational};
use image::codecs::png::PngEncoder;
use image::{ImageEncoder, RgbaImage};
use tempfile::TempDir;

use super::*;

const PHOTOS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/photos");

fn photo(name: &str) -> PathBuf {
    Path::new(PHOTOS).join(name)
}

/// Processes `input` into a fresh directory, returning it (to keep the files) and the paths.
fn run(input: &Path) -> (TempDir, PathBuf, PathBuf, Result<Processed, PhotoError>) {
    let dir = tempfile::tempdir().unwrap();
    let (original, thumb) = (dir.path().join("original"), dir.path().join("thumb.jpg"));
    let result = process(input, &original, &thumb, &Limits::default());
    (dir, original, thumb, result)
}

fn write_temp(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn exif_fields(path: &Path) -> Vec<Field> {
    let file = std::io::BufReader::new(File::open(path).unwrap());
    match exif::Reader::new().read_from_container(&mut { file }) {
        Ok(exif) => exif.fields().cloned().collect(),
        Err(exif::Error::NotFound(_)) => Vec::new(),
        Err(e) => panic!("stripped file has unreadable EXIF: {e}"),
    }
}

/// No location, time or camera survives stripping; only Orientation, and only when not 1.
fn assert_clean(stripped: &Path, orientation: u16) {
    let fields = exif_fields(stripped);
    let tags: Vec<Tag> = fields.iter().map(|f| f.tag).collect();
    if orientation == 1 {
        assert!(tags.is_empty(), "{stripped:?} keeps {tags:?}");
    } else {
        assert_eq!(tags, [Tag::Orientation]);
        assert_eq!(fields[0].value.get_uint(0), Some(u32::from(orientation)));
    }
    let bytes = std::fs::read(stripped).unwrap();
    for needle in [&b"http://ns.adobe.com/xap"[..], b"Photoshop 3.0"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{needle:?} left in"
        );
    }
}

fn decoded_size(path: &Path) -> (u32, u32) {
    let image = ImageReader::open(path)
        .unwrap()
        .with_guessed_format()
        .unwrap()
        .decode()
        .unwrap();
    (image.width(), image.height())
}

// ---- Real photos ----------------------------------------------------------------------------

#[test]
fn inspect_reads_the_stored_size_of_every_photo() {
    let limits = Limits::default();
    for (name, width, height) in [
        ("iphone_hdr_NO.jpg", 3264, 2448),
        ("67-0_length_string.jpg", 4032, 2012),
        ("jolla.jpg", 3264, 2448),
        ("portrait_6.jpg", 600, 450),
        ("32-lens_data.jpeg", 200, 133),
    ] {
        let got = inspect(&photo(name), &limits).unwrap();
        assert_eq!(
            got,
            Inspection {
                format: Format::Jpeg,
                width,
                height
            },
            "{name}"
        );
    }
}

#[test]
fn iphone_photo_gives_gps_west_time_and_camera_and_is_stripped() {
    let input = photo("iphone_hdr_NO.jpg");
    let (_dir, original, thumb, result) = run(&input);
    let p = result.unwrap();
    let gps = p.gps.unwrap();
    assert!((gps.lat - 40.446972).abs() < 1e-5, "{gps:?}");
    assert!((gps.lon - -3.724753).abs() < 1e-5, "{gps:?}");
    assert!(
        gps.altitude_m.is_some_and(|a| (a - 639.59).abs() < 0.01),
        "{gps:?}"
    );
    assert_eq!(p.taken_at.as_deref(), Some("2015-04-10T20:12:23"));
    assert_eq!(p.camera.as_deref(), Some("Apple iPhone 6"));
    assert_eq!(
        (p.format, p.width, p.height, p.orientation),
        (Format::Jpeg, 3264, 2448, 1)
    );
    assert_clean(&original, 1);
    assert_eq!(decoded_size(&original), (3264, 2448));
    assert_eq!(decoded_size(&thumb), (320, 240));
    assert_eq!(
        p.stripped_bytes,
        std::fs::metadata(&original).unwrap().len()
    );
    assert_eq!(p.thumb_bytes, std::fs::metadata(&thumb).unwrap().len());
    assert!(p.stripped_bytes < std::fs::metadata(&input).unwrap().len());
}

#[test]
fn zero_length_exif_string_still_gives_gps_and_xmp_and_iptc_are_dropped() {
    let (_dir, original, thumb, result) = run(&photo("67-0_length_string.jpg"));
    let p = result.unwrap();
    let gps = p.gps.unwrap();
    assert!(
        (gps.lat - 51.025).abs() < 1e-5 && (gps.lon - 7.591944).abs() < 1e-5,
        "{gps:?}"
    );
    assert_eq!(p.camera.as_deref(), Some("samsung SM-G930F"));
    assert_eq!(p.taken_at, None, "it has DateTime but no DateTimeOriginal");
    assert_clean(&original, 1);
    assert_eq!(decoded_size(&original), (4032, 2012));
    assert_eq!(decoded_size(&thumb), (320, 160));
}

#[test]
fn portrait_photo_is_upright_in_the_thumbnail_and_keeps_only_its_orientation() {
    let (_dir, original, thumb, result) = run(&photo("portrait_6.jpg"));
    let p = result.unwrap();
    assert_eq!((p.orientation, p.width, p.height), (6, 450, 600));
    assert_eq!(decoded_size(&thumb), (240, 320));
    assert_clean(&original, 6);
    assert_eq!(
        decoded_size(&original),
        (600, 450),
        "pixels are copied, not rotated"
    );
    // Viewers find the orientation where they look for it.
    let reader = ImageReader::open(&original).unwrap();
    let mut decoder = reader
        .with_guessed_format()
        .unwrap()
        .into_decoder()
        .unwrap();
    assert_eq!(
        image::ImageDecoder::orientation(&mut decoder).unwrap(),
        Orientation::Rotate90
    );
}

#[test]
fn gps_block_without_coordinates_gives_no_gps() {
    let (_dir, original, thumb, result) = run(&photo("32-lens_data.jpeg"));
    let p = result.unwrap();
    assert_eq!(p.gps, None);
    assert_eq!(p.camera.as_deref(), Some("NIKON D300"));
    assert_eq!(p.taken_at.as_deref(), Some("2012-07-14T16:30:12"));
    assert_clean(&original, 1);
    assert_eq!(decoded_size(&original), (200, 133));
    assert_eq!(
        decoded_size(&thumb),
        (200, 133),
        "small photos are not enlarged"
    );
}

#[test]
fn photo_without_gps_processes() {
    let (_dir, original, _thumb, result) = run(&photo("jolla.jpg"));
    let p = result.unwrap();
    assert_eq!((p.gps, p.camera.as_deref()), (None, Some("Jolla")));
    assert_clean(&original, 1);
}

#[test]
fn heic_is_named_and_refused_with_advice() {
    let input = photo("IMG_5195.HEIC");
    let err = inspect(&input, &Limits::default()).unwrap_err();
    assert!(
        matches!(&err, PhotoError::Unsupported(f) if f == "heic"),
        "{err:?}"
    );
    assert_eq!(err.code(), "unsupported_format");
    let message = err.to_string();
    assert!(
        message.contains("JPEG or PNG") && message.contains("HEIC"),
        "{message}"
    );
    let (_dir, original, thumb, result) = run(&input);
    assert!(matches!(result, Err(PhotoError::Unsupported(f)) if f == "heic"));
    assert!(!original.exists() && !thumb.exists());
}

// ---- Synthetic EXIF: the paths the real photos do not cover ---------------------------------

fn small_jpeg() -> Vec<u8> {
    let image = RgbImage::from_fn(64, 48, |x, y| Rgb([(x * 4) as u8, (y * 5) as u8, 128]));
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&image)
        .unwrap();
    out
}

fn ascii_field(tag: Tag, text: &str) -> Field {
    Field {
        tag,
        ifd_num: In::PRIMARY,
        value: Value::Ascii(vec![text.as_bytes().to_vec()]),
    }
}

fn rational_field(tag: Tag, values: &[(u32, u32)]) -> Field {
    let value = Value::Rational(
        values
            .iter()
            .map(|&(num, denom)| Rational { num, denom })
            .collect(),
    );
    Field {
        tag,
        ifd_num: In::PRIMARY,
        value,
    }
}

fn tiff(fields: &[Field]) -> Vec<u8> {
    let mut writer = Writer::new();
    for field in fields {
        writer.push_field(field);
    }
    let mut out = Cursor::new(Vec::new());
    writer.write(&mut out, false).unwrap();
    out.into_inner()
}

/// A JPEG carrying the EXIF block and every kind of metadata segment, with a trailer after EOI.
fn jpeg_full_of_metadata(exif_tiff: &[u8]) -> Vec<u8> {
    let base = small_jpeg();
    let segment = |marker: u8, payload: &[u8]| {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
        s.extend_from_slice(payload);
        s
    };
    let mut out = base[..2].to_vec();
    out.extend(segment(0xE1, &[&b"Exif\0\0"[..], exif_tiff].concat()));
    out.extend(segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>"));
    out.extend(segment(0xED, b"Photoshop 3.0\08BIM"));
    out.extend(segment(0xE2, b"ICC_PROFILE\0\x01\x01fake-profile"));
    out.extend(segment(0xE2, b"MPF\0secondary images"));
    out.extend(segment(0xFE, b"secret comment"));
    out.extend_from_slice(&base[2..]);
    out.extend_from_slice(b"SEFHtrailer with secret data");
    out
}

#[test]
fn south_west_offset_time_and_below_sea_level_are_read() {
    let exif_tiff = tiff(&[
        ascii_field(Tag::Make, "Canon"),
        ascii_field(Tag::Model, "Canon EOS 5D"),
        ascii_field(Tag::DateTimeOriginal, "2026:11:28 09:30:05"),
        ascii_field(Tag::OffsetTimeOriginal, "-05:00"),
        ascii_field(Tag::GPSLatitudeRef, "S"),
        rational_field(Tag::GPSLatitude, &[(33, 1), (52, 1), (1234, 100)]),
        ascii_field(Tag::GPSLongitudeRef, "W"),
        rational_field(Tag::GPSLongitude, &[(70, 1), (30, 1), (0, 1)]),
        Field {
            tag: Tag::GPSAltitudeRef,
            ifd_num: In::PRIMARY,
            value: Value::Byte(vec![1]),
        },
        rational_field(Tag::GPSAltitude, &[(15, 2)]),
        Field {
            tag: Tag::Orientation,
            ifd_num: In::PRIMARY,
            value: Value::Short(vec![8]),
        },
    ]);
    let dir = tempfile::tempdir().unwrap();
    let input = write_temp(&dir, "in.jpg", &jpeg_full_of_metadata(&exif_tiff));
    let (_out, original, thumb, result) = run(&input);
    let p = result.unwrap();
    let gps = p.gps.unwrap();
    assert!(
        (gps.lat - -(33.0 + 52.0 / 60.0 + 12.34 / 3600.0)).abs() < 1e-9,
        "{gps:?}"
    );
    assert!((gps.lon - -70.5).abs() < 1e-9, "{gps:?}");
    assert_eq!(gps.altitude_m, Some(-7.5));
    assert_eq!(p.taken_at.as_deref(), Some("2026-11-28T09:30:05-05:00"));
    assert_eq!(p.camera.as_deref(), Some("Canon EOS 5D"));
    assert_eq!((p.orientation, p.width, p.height), (8, 48, 64));
    assert_eq!(decoded_size(&thumb), (48, 64));

    assert_clean(&original, 8);
    let stripped = std::fs::read(&original).unwrap();
    let has = |needle: &[u8]| stripped.windows(needle.len()).any(|w| w == needle);
    assert!(
        has(b"ICC_PROFILE\0") && has(b"JFIF\0"),
        "colour profile and JFIF stay"
    );
    for gone in [
        &b"MPF\0"[..],
        b"secret comment",
        b"SEFH",
        b"8BIM",
        b"xmpmeta",
    ] {
        assert!(!has(gone), "{:?} left in", String::from_utf8_lossy(gone));
    }
    assert!(stripped.ends_with(&[0xFF, 0xD9]), "nothing after EOI");
    assert_eq!(decoded_size(&original), (64, 48));
}

#[test]
fn gps_without_hemisphere_or_at_null_island_is_ignored() {
    for fields in [
        vec![
            rational_field(Tag::GPSLatitude, &[(38, 1), (28, 1), (0, 1)]),
            rational_field(Tag::GPSLongitude, &[(106, 1), (16, 1), (0, 1)]),
        ],
        vec![
            ascii_field(Tag::GPSLatitudeRef, "N"),
            rational_field(Tag::GPSLatitude, &[(0, 1), (0, 1), (0, 1)]),
            ascii_field(Tag::GPSLongitudeRef, "E"),
            rational_field(Tag::GPSLongitude, &[(0, 1), (0, 1), (0, 1)]),
        ],
        vec![
            ascii_field(Tag::GPSLatitudeRef, "N"),
            rational_field(Tag::GPSLatitude, &[(38, 0), (0, 1), (0, 1)]),
            ascii_field(Tag::GPSLongitudeRef, "E"),
            rational_field(Tag::GPSLongitude, &[(106, 1), (0, 1), (0, 1)]),
        ],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let input = write_temp(&dir, "in.jpg", &jpeg_full_of_metadata(&tiff(&fields)));
        assert_eq!(run(&input).3.unwrap().gps, None, "{fields:?}");
    }
}

#[test]
fn local_time_without_offset_and_blank_time() {
    let fields = [ascii_field(Tag::DateTimeOriginal, "2026:01:02 03:04:05")];
    assert_eq!(
        read_exif(&jpeg_full_of_metadata(&tiff(&fields)))
            .taken_at
            .as_deref(),
        Some("2026-01-02T03:04:05")
    );
    let blank = [ascii_field(Tag::DateTimeOriginal, "    :  :     :  :  ")];
    assert_eq!(
        read_exif(&jpeg_full_of_metadata(&tiff(&blank))).taken_at,
        None
    );
}

#[test]
fn png_text_time_and_exif_are_dropped_but_orientation_kept() {
    let image = RgbaImage::from_fn(40, 30, |x, _| {
        image::Rgba([255, 0, 0, if x < 20 { 0 } else { 255 }])
    });
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(&image, 40, 30, image::ExtendedColorType::Rgba8)
        .unwrap();
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        let crc = crc32(&c[4..]);
        c.extend_from_slice(&crc.to_be_bytes());
        c
    };
    let exif_tiff = tiff(&[
        Field {
            tag: Tag::Orientation,
            ifd_num: In::PRIMARY,
            value: Value::Short(vec![6]),
        },
        ascii_field(Tag::GPSLatitudeRef, "N"),
        rational_field(Tag::GPSLatitude, &[(38, 1), (28, 1), (0, 1)]),
        ascii_field(Tag::GPSLongitudeRef, "E"),
        rational_field(Tag::GPSLongitude, &[(106, 1), (16, 1), (0, 1)]),
    ]);
    let ihdr_end = 8 + 25;
    let mut input = png[..ihdr_end].to_vec();
    input.extend(chunk(b"eXIf", &exif_tiff));
    input.extend(chunk(b"tEXt", b"Comment\0secret"));
    input.extend(chunk(b"tIME", &[7, 234, 11, 28, 9, 30, 5]));
    input.extend(chunk(b"sRGB", &[0]));
    input.extend_from_slice(&png[ihdr_end..]);
    let dir = tempfile::tempdir().unwrap();
    let input = write_temp(&dir, "in.png", &input);

    assert_eq!(
        inspect(&input, &Limits::default()).unwrap().format,
        Format::Png
    );
    let (_out, original, thumb, result) = run(&input);
    let p = result.unwrap();
    assert_eq!(
        (p.format, p.orientation, p.width, p.height),
        (Format::Png, 6, 30, 40)
    );
    assert!(
        p.gps
            .is_some_and(|g| (g.lat - (38.0 + 28.0 / 60.0)).abs() < 1e-9)
    );
    assert_clean(&original, 6);
    let stripped = std::fs::read(&original).unwrap();
    let has = |needle: &[u8]| stripped.windows(needle.len()).any(|w| w == needle);
    assert!(!has(b"tEXt") && !has(b"tIME") && !has(b"secret") && has(b"sRGB"));
    assert_eq!(decoded_size(&original), (40, 30));
    let thumb_image = image::open(&thumb).unwrap().to_rgb8();
    assert_eq!(thumb_image.dimensions(), (30, 40));
    // The transparent half (top after turning) lies on white, not black.
    assert!(
        thumb_image.get_pixel(15, 2).0.iter().all(|&c| c > 200),
        "{:?}",
        thumb_image.get_pixel(15, 2)
    );
}

// ---- Hostile and broken files ---------------------------------------------------------------

#[test]
fn sniff_names_what_it_refuses() {
    let name = |head: &[u8]| match sniff(head) {
        Ok(format) => format.as_str().to_owned(),
        Err(PhotoError::Unsupported(name)) => name,
        Err(e) => panic!("{e:?}"),
    };
    assert_eq!(name(&[0xFF, 0xD8, 0xFF, 0xE0]), "jpeg");
    assert_eq!(name(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR"), "png");
    assert_eq!(name(b"GIF89a\x01\0\x01\0"), "gif");
    assert_eq!(name(b"RIFF\x10\0\0\0WEBPVP8 "), "webp");
    assert_eq!(name(b"II*\0\x08\0\0\0"), "tiff");
    assert_eq!(name(b"MM\0*\0\0\0\x08"), "tiff");
    assert_eq!(name(b"\0\0\0\x18ftypheic\0\0\0\0"), "heic");
    assert_eq!(name(b"\0\0\0\x18ftypmif1\0\0\0\0"), "heic");
    assert_eq!(name(b"\0\0\0\x1cftypavif\0\0\0\0"), "avif");
    assert_eq!(name(b"\0\0\0\x18ftypisom\0\0\0\0"), "unknown");
    assert_eq!(name(b""), "empty");
    assert_eq!(name(&[0xFF, 0xD8]), "unknown");
    assert_eq!(name(b"%PDF-1.7"), "unknown");
    assert_eq!(Format::Jpeg.content_type(), "image/jpeg");
    assert_eq!(Format::Png.content_type(), "image/png");
}

#[test]
fn half_a_jpeg_is_truncated_and_nothing_is_written() {
    let bytes = std::fs::read(photo("iphone_hdr_NO.jpg")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = write_temp(&dir, "half.jpg", &bytes[..bytes.len() / 2]);
    let err = inspect(&input, &Limits::default()).unwrap_err();
    assert!(matches!(err, PhotoError::Truncated), "{err:?}");
    assert_eq!(err.code(), "truncated");
    let (_out, original, thumb, result) = run(&input);
    assert!(matches!(result, Err(PhotoError::Truncated)), "{result:?}");
    assert!(!original.exists() && !thumb.exists());
}

#[test]
fn padding_after_eoi_is_accepted_and_missing_iend_is_not() {
    let mut bytes = std::fs::read(photo("32-lens_data.jpeg")).unwrap();
    bytes.extend_from_slice(&[0, 0, 0xFF, 0xFF, 0]);
    let dir = tempfile::tempdir().unwrap();
    let padded = write_temp(&dir, "padded.jpg", &bytes);
    assert!(inspect(&padded, &Limits::default()).is_ok());

    let mut png = Vec::new();
    let image = RgbImage::new(8, 8);
    PngEncoder::new(&mut png)
        .write_image(&image, 8, 8, image::ExtendedColorType::Rgb8)
        .unwrap();
    let no_iend = write_temp(&dir, "no_iend.png", &png[..png.len() - 12]);
    let err = inspect(&no_iend, &Limits::default()).unwrap_err();
    assert!(matches!(err, PhotoError::Truncated), "{err:?}");
}

#[test]
fn empty_and_random_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write_temp(&dir, "empty", b"");
    assert!(
        matches!(inspect(&empty, &Limits::default()), Err(PhotoError::Unsupported(n)) if n == "empty")
    );
    assert!(matches!(run(&empty).3, Err(PhotoError::Unsupported(n)) if n == "empty"));

    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let random: Vec<u8> = (0..4096).map(|_| rng.byte()).collect();
    let path = write_temp(&dir, "random", &random);
    assert!(matches!(run(&path).3, Err(PhotoError::Unsupported(n)) if n == "unknown"));
    // Random bytes behind a valid signature reach the structure walkers.
    for signature in [&[0xFF, 0xD8, 0xFF][..], b"\x89PNG\r\n\x1a\n"] {
        let path = write_temp(&dir, "random_body", &[signature, &random].concat());
        let err = run(&path).3.unwrap_err();
        assert!(
            matches!(err, PhotoError::Corrupt(_) | PhotoError::Truncated),
            "{err:?}"
        );
    }
}

/// A PNG that declares 50 000 × 50 000 pixels in under 100 bytes.
fn png_bomb() -> Vec<u8> {
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        let crc = crc32(&c[4..]);
        c.extend_from_slice(&crc.to_be_bytes());
        c
    };
    let mut ihdr = 50_000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(
        b"IDAT",
        &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(chunk(b"IEND", b""));
    png
}

#[test]
fn decompression_bombs_are_refused_from_the_header() {
    let dir = tempfile::tempdir().unwrap();
    // A baseline JPEG frame header of 65 535 × 65 535, nothing else.
    let jpeg_bomb = [
        0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0xFF, 0xFF, 0xFF, 0xFF, 1, 1, 0x11, 0,
    ];
    for (name, bytes, side) in [
        ("bomb.png", png_bomb(), 50_000),
        ("bomb.jpg", jpeg_bomb.to_vec(), 65_535),
    ] {
        let path = write_temp(&dir, name, &bytes);
        assert!(bytes.len() < 100);
        for err in [
            inspect(&path, &Limits::default()).unwrap_err(),
            run(&path).3.unwrap_err(),
        ] {
            assert!(
                matches!(err, PhotoError::TooManyPixels { width, height, max: 64_000_000 } if width == side && height == side),
                "{name}: {err:?}"
            );
            assert_eq!(err.code(), "too_many_pixels");
        }
    }
}

#[test]
fn memory_limit_applies_below_the_pixel_limit() {
    let limits = Limits {
        max_alloc_bytes: 1024,
        ..Limits::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let err = process(
        &photo("32-lens_data.jpeg"),
        &dir.path().join("o"),
        &dir.path().join("t"),
        &limits,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            PhotoError::TooManyPixels {
                width: 200,
                height: 133,
                ..
            }
        ),
        "{err:?}"
    );
}

/// Mutated and cut copies of a real photo: any result is fine, a panic is not.
#[test]
fn damaged_copies_never_panic() {
    let original = std::fs::read(photo("32-lens_data.jpeg")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for round in 0..150 {
        let mut bytes = original.clone();
        if round % 3 == 0 {
            bytes.truncate(rng.below(bytes.len()));
        } else {
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(bytes.len());
                bytes[at] = rng.byte();
            }
        }
        let path = write_temp(&dir, "damaged.jpg", &bytes);
        let _ = inspect(&path, &Limits::default());
        let _ = process(
            &path,
            &dir.path().join("o"),
            &dir.path().join("t"),
            &Limits::default(),
        );
    }
}

#[test]
fn error_codes_are_stable() {
    let codes: Vec<&str> = [
        PhotoError::Unsupported("gif".into()),
        PhotoError::TooManyPixels {
            width: 1,
            height: 1,
            max: 0,
        },
        PhotoError::Truncated,
        PhotoError::Corrupt("x".into()),
        PhotoError::Io(io::Error::other("x")),
    ]
    .iter()
    .map(PhotoError::code)
    .collect();
    assert_eq!(
        codes,
        [
            "unsupported_format",
            "too_many_pixels",
            "truncated",
            "corrupt",
            "io"
        ]
    );
}

/// A tiny deterministic generator, so failures reproduce without a `rand` dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[0]
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap()
    }
}
