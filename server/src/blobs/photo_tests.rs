//! Photo intake on photos built here (`testing::photo`: EXIF of every kind, damaged EXIF,
//! hostile files) and, when `FIELDSYNC_TEST_PHOTOS` names the folder, on real phone photos
//! (the `corpus_` tests).

use std::path::PathBuf;

use exif::Field;
use tempfile::TempDir;

use super::*;
use crate::testing::photo::{ExifDamage, TestPhoto, ascii, corpus, damaged_exif, heic, rationals};

/// A photo of the real-phone corpus, or `None` (said on stderr) when there is no corpus.
fn corpus_photo(test: &str, name: &str) -> Option<PathBuf> {
    corpus(test).map(|dir| dir.join(name))
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
fn corpus_inspect_reads_the_stored_size_of_every_photo() {
    let Some(dir) = corpus("corpus_inspect_reads_the_stored_size_of_every_photo") else {
        return;
    };
    let photo = |name: &str| dir.join(name);
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
fn corpus_iphone_photo_gives_gps_west_time_and_camera_and_is_stripped() {
    let Some(input) = corpus_photo(
        "corpus_iphone_photo_gives_gps_west_time_and_camera_and_is_stripped",
        "iphone_hdr_NO.jpg",
    ) else {
        return;
    };
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
    assert_eq!(p.metadata, PhotoMetadata::Read);
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
fn corpus_zero_length_exif_string_still_gives_gps_and_xmp_and_iptc_are_dropped() {
    let Some(input) = corpus_photo(
        "corpus_zero_length_exif_string_still_gives_gps_and_xmp_and_iptc_are_dropped",
        "67-0_length_string.jpg",
    ) else {
        return;
    };
    let (_dir, original, thumb, result) = run(&input);
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
fn corpus_portrait_photo_is_upright_in_the_thumbnail_and_keeps_only_its_orientation() {
    let Some(input) = corpus_photo(
        "corpus_portrait_photo_is_upright_in_the_thumbnail_and_keeps_only_its_orientation",
        "portrait_6.jpg",
    ) else {
        return;
    };
    let (_dir, original, thumb, result) = run(&input);
    let p = result.unwrap();
    assert_eq!((p.orientation, p.width, p.height), (6, 450, 600));
    assert_eq!(decoded_size(&thumb), (240, 320));
    assert_turned(&original, (600, 450), 6);
}

/// Pixels copied, not rotated, and an EXIF orientation where viewers look for it.
fn assert_turned(original: &Path, stored: (u32, u32), orientation: u16) {
    assert_clean(original, orientation);
    assert_eq!(
        decoded_size(original),
        stored,
        "pixels are copied, not rotated"
    );
    let reader = ImageReader::open(original).unwrap();
    let mut decoder = reader
        .with_guessed_format()
        .unwrap()
        .into_decoder()
        .unwrap();
    assert_eq!(
        image::ImageDecoder::orientation(&mut decoder).unwrap(),
        Orientation::from_exif(orientation as u8).unwrap()
    );
}

#[test]
fn corpus_gps_block_without_coordinates_gives_no_gps() {
    let Some(input) = corpus_photo(
        "corpus_gps_block_without_coordinates_gives_no_gps",
        "32-lens_data.jpeg",
    ) else {
        return;
    };
    let (_dir, original, thumb, result) = run(&input);
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
fn corpus_photo_without_gps_processes() {
    let Some(input) = corpus_photo("corpus_photo_without_gps_processes", "jolla.jpg") else {
        return;
    };
    let (_dir, original, _thumb, result) = run(&input);
    let p = result.unwrap();
    assert_eq!((p.gps, p.camera.as_deref()), (None, Some("Jolla")));
    assert_eq!(p.metadata, PhotoMetadata::Read);
    assert_clean(&original, 1);
}

#[test]
fn corpus_heic_is_named_and_refused_with_advice() {
    let Some(input) = corpus_photo(
        "corpus_heic_is_named_and_refused_with_advice",
        "IMG_5195.HEIC",
    ) else {
        return;
    };
    heic_is_named_and_refused_with_advice(&input);
}

#[test]
fn heic_is_named_and_refused_with_advice_from_its_first_bytes() {
    let dir = tempfile::tempdir().unwrap();
    heic_is_named_and_refused_with_advice(&write_temp(&dir, "photo.heic", &heic()));
}

fn heic_is_named_and_refused_with_advice(input: &Path) {
    let err = inspect(input, &Limits::default()).unwrap_err();
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
    let (_dir, original, thumb, result) = run(input);
    assert!(matches!(result, Err(PhotoError::Unsupported(f)) if f == "heic"));
    assert!(!original.exists() && !thumb.exists());
}

// ---- Built photos: every EXIF path, without the corpus ---------------------------------------

/// Writes `bytes` to a fresh directory and processes them.
fn run_bytes(
    name: &str,
    bytes: &[u8],
) -> (TempDir, PathBuf, PathBuf, Result<Processed, PhotoError>) {
    let dir = tempfile::tempdir().unwrap();
    let input = write_temp(&dir, name, bytes);
    let (out, original, thumb, result) = run(&input);
    drop(dir);
    (out, original, thumb, result)
}

#[test]
fn south_west_offset_time_and_below_sea_level_are_read() {
    let lat = -(33.0 + 52.0 / 60.0 + 12.34 / 3600.0);
    let jpeg = TestPhoto::new(64, 48)
        .camera("Canon", "Canon EOS 5D")
        .taken_at("2026:11:28 09:30:05", Some("-05:00"))
        .gps(lat, -70.5)
        .altitude(-7.5)
        .orientation(8)
        .other_metadata()
        .jpeg();
    let (_out, original, thumb, result) = run_bytes("in.jpg", &jpeg);
    let p = result.unwrap();
    let gps = p.gps.unwrap();
    assert!((gps.lat - lat).abs() < 1e-7, "{gps:?}");
    assert!((gps.lon - -70.5).abs() < 1e-7, "{gps:?}");
    assert_eq!(gps.altitude_m, Some(-7.5));
    assert_eq!(p.taken_at.as_deref(), Some("2026-11-28T09:30:05-05:00"));
    assert_eq!(p.camera.as_deref(), Some("Canon EOS 5D"));
    assert_eq!(p.metadata, PhotoMetadata::Read);
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
        b"test photo",
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
fn a_photo_taken_in_a_village_gives_its_position() {
    let jpeg = TestPhoto::new(64, 48)
        .gps(38.4680, 106.2719)
        .altitude(1111.0)
        .jpeg();
    let p = run_bytes("in.jpg", &jpeg).3.unwrap();
    let gps = p.gps.unwrap();
    assert!(
        (gps.lat - 38.4680).abs() < 1e-7 && (gps.lon - 106.2719).abs() < 1e-7,
        "{gps:?}"
    );
    assert_eq!(gps.altitude_m, Some(1111.0));
    assert_eq!((p.taken_at, p.camera, p.orientation), (None, None, 1));
}

#[test]
fn rotated_photo_is_upright_in_the_thumbnail_and_keeps_only_its_orientation() {
    let jpeg = TestPhoto::new(120, 90)
        .orientation(6)
        .camera("Xiaomi", "Redmi Note 12")
        .jpeg();
    let (_out, original, thumb, result) = run_bytes("in.jpg", &jpeg);
    let p = result.unwrap();
    assert_eq!((p.orientation, p.width, p.height), (6, 90, 120));
    assert_eq!(decoded_size(&thumb), (90, 120));
    assert_turned(&original, (120, 90), 6);
}

#[test]
fn metadata_says_whether_there_was_exif() {
    let none = run_bytes("in.jpg", &TestPhoto::default().jpeg()).3.unwrap();
    assert_eq!(
        (none.metadata, none.orientation, none.gps),
        (PhotoMetadata::None, 1, None)
    );
    let read = run_bytes("in.jpg", &TestPhoto::default().camera("vivo", "Y35").jpeg())
        .3
        .unwrap();
    assert_eq!(read.metadata, PhotoMetadata::Read);
    let png = run_bytes("in.png", &TestPhoto::default().png()).3.unwrap();
    assert_eq!(
        (png.format, png.metadata),
        (Format::Png, PhotoMetadata::None)
    );
}

/// Damaged EXIF, as phone makers and messaging apps write it: the photo is kept and decoded,
/// and the block is dropped whole, even the orientation and GPS that parse before the damage.
#[test]
fn damaged_exif_keeps_the_photo_and_drops_the_whole_block() {
    for damage in ExifDamage::ALL {
        for (name, bytes) in [
            (
                "in.jpg",
                TestPhoto::new(64, 48).raw_exif(damaged_exif(damage)).jpeg(),
            ),
            (
                "in.png",
                TestPhoto::new(64, 48).raw_exif(damaged_exif(damage)).png(),
            ),
        ] {
            let (_out, original, thumb, result) = run_bytes(name, &bytes);
            let p = result.unwrap_or_else(|e| panic!("{damage:?} {name}: {e:?}"));
            assert_eq!(
                (
                    p.metadata,
                    p.orientation,
                    p.gps,
                    p.taken_at.as_deref(),
                    p.camera.as_deref()
                ),
                (PhotoMetadata::Unreadable, 1, None, None, None),
                "{damage:?} {name}"
            );
            assert_eq!((p.width, p.height), (64, 48), "{damage:?} {name}");
            assert_clean(&original, 1);
            assert_eq!(decoded_size(&original), (64, 48));
            assert_eq!(decoded_size(&thumb), (64, 48));
        }
    }
}

/// An EXIF block longer than its segment says (its directory announces more entries than the
/// segment holds, as some phones and messaging apps write it) leaves its end between two
/// segments. libjpeg and jpeg-decoder skip such bytes and show the photo; so does the server,
/// which keeps the photo, drops the cut-short block and stores none of the stray bytes. It used
/// to refuse the upload as `corrupt`.
#[test]
fn exif_spilling_out_of_its_segment_keeps_the_photo() {
    let photo = TestPhoto::new(64, 48)
        .orientation(6)
        .gps(38.4680, 106.2719)
        .camera("OPPO", "A57");
    let spilled = photo.clone().exif_spilling_out(40).jpeg();
    assert_eq!(
        spilled.len(),
        photo.jpeg().len(),
        "the same bytes, a shorter segment"
    );
    let decoded = image::load_from_memory(&spilled).expect("another decoder shows it");
    assert_eq!((decoded.width(), decoded.height()), (64, 48));

    let dir = tempfile::tempdir().unwrap();
    let input = write_temp(&dir, "in.jpg", &spilled);
    let header = inspect(&input, &Limits::default()).unwrap();
    assert_eq!((header.width, header.height), (64, 48));
    let (_out, original, thumb, result) = run(&input);
    let p = result.unwrap();
    assert_eq!(
        (p.metadata, p.orientation, p.gps, p.camera.as_deref()),
        (PhotoMetadata::Unreadable, 1, None, None)
    );
    assert_clean(&original, 1);
    assert_eq!(decoded_size(&original), (64, 48));
    assert_eq!(decoded_size(&thumb), (64, 48));
    let stray = &photo.exif().unwrap()[photo.exif().unwrap().len() - 40..];
    let stored = std::fs::read(&original).unwrap();
    assert!(
        !stored.windows(stray.len()).any(|w| w == stray),
        "stray bytes stored"
    );

    // Not without bound: past a segment's worth of stray bytes the file is corrupt.
    let exif_end = 4 + usize::from(u16::from_be_bytes([spilled[4], spilled[5]]));
    let mut lost = spilled[..exif_end].to_vec();
    lost.extend(std::iter::repeat_n(0u8, 70_000));
    lost.extend_from_slice(&spilled[exif_end..]);
    let lost = write_temp(&dir, "lost.jpg", &lost);
    let err = inspect(&lost, &Limits::default()).unwrap_err();
    assert!(matches!(err, PhotoError::Corrupt(_)), "{err:?}");
}

/// The damaged blocks of `testing::photo` are damaged for a reader, not only for ours: the
/// one a phone would read them with keeps what it parsed before the damage, and reports it.
#[test]
fn damaged_exif_is_damaged_for_a_forgiving_reader_too() {
    for damage in ExifDamage::ALL {
        let mut reader = exif::Reader::new();
        reader.continue_on_error(true);
        let Err(exif::Error::PartialResult(partial)) = reader.read_raw(damaged_exif(damage)) else {
            panic!("{damage:?}: not a partial result");
        };
        let (exif, errors) = partial.into_inner();
        assert!(!errors.is_empty(), "{damage:?}");
        assert_eq!(
            exif.get_field(Tag::Orientation, In::PRIMARY)
                .and_then(|f| f.value.get_uint(0)),
            Some(6),
            "{damage:?}: the orientation before the damage"
        );
        let gps = gps(&exif).is_some();
        assert_eq!(
            gps,
            matches!(damage, ExifDamage::CountPastEnd | ExifDamage::Loop),
            "{damage:?}"
        );
    }
}

#[test]
fn gps_without_hemisphere_or_at_null_island_is_ignored() {
    for fields in [
        vec![
            rationals(Tag::GPSLatitude, &[(38, 1), (28, 1), (0, 1)]),
            rationals(Tag::GPSLongitude, &[(106, 1), (16, 1), (0, 1)]),
        ],
        vec![
            ascii(Tag::GPSLatitudeRef, "N"),
            rationals(Tag::GPSLatitude, &[(0, 1), (0, 1), (0, 1)]),
            ascii(Tag::GPSLongitudeRef, "E"),
            rationals(Tag::GPSLongitude, &[(0, 1), (0, 1), (0, 1)]),
        ],
        vec![
            ascii(Tag::GPSLatitudeRef, "N"),
            rationals(Tag::GPSLatitude, &[(38, 0), (0, 1), (0, 1)]),
            ascii(Tag::GPSLongitudeRef, "E"),
            rationals(Tag::GPSLongitude, &[(106, 1), (0, 1), (0, 1)]),
        ],
    ] {
        let photo = fields
            .iter()
            .cloned()
            .fold(TestPhoto::default(), TestPhoto::field);
        let p = run_bytes("in.jpg", &photo.jpeg()).3.unwrap();
        assert_eq!(
            (p.gps, p.metadata),
            (None, PhotoMetadata::Read),
            "{fields:?}"
        );
    }
}

#[test]
fn local_time_without_offset_and_blank_time() {
    let read = |photo: TestPhoto| read_exif(photo.exif().as_deref()).taken_at;
    assert_eq!(
        read(TestPhoto::default().taken_at("2026:01:02 03:04:05", None)).as_deref(),
        Some("2026-01-02T03:04:05")
    );
    assert_eq!(
        read(TestPhoto::default().taken_at("    :  :     :  :  ", None)),
        None
    );
}

#[test]
fn png_text_time_and_exif_are_dropped_but_orientation_kept() {
    let png = TestPhoto::new(40, 30)
        .orientation(6)
        .gps(38.0 + 28.0 / 60.0, 106.0 + 16.0 / 60.0)
        .other_metadata()
        .png();
    let dir = tempfile::tempdir().unwrap();
    let input = write_temp(&dir, "in.png", &png);

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
            .is_some_and(|g| (g.lat - (38.0 + 28.0 / 60.0)).abs() < 1e-7)
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
    let bytes = TestPhoto::new(256, 192)
        .textured()
        .gps(38.47, 106.27)
        .jpeg();
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
    let mut bytes = TestPhoto::new(200, 133).jpeg();
    bytes.extend_from_slice(&[0, 0, 0xFF, 0xFF, 0]);
    let dir = tempfile::tempdir().unwrap();
    let padded = write_temp(&dir, "padded.jpg", &bytes);
    assert!(inspect(&padded, &Limits::default()).is_ok());

    let png = TestPhoto::new(8, 8).png();
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
    let input = write_temp(&dir, "in.jpg", &TestPhoto::new(200, 133).jpeg());
    let err = process(
        &input,
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

/// A camera's photo with all its metadata, for the mutation tests.
fn full_photo() -> Vec<u8> {
    TestPhoto::new(200, 133)
        .textured()
        .camera("NIKON CORPORATION", "NIKON D300")
        .taken_at("2012:07:14 16:30:12", Some("+08:00"))
        .gps(38.4680, 106.2719)
        .altitude(1111.5)
        .orientation(6)
        .other_metadata()
        .jpeg()
}

/// Mutated and cut copies of a photo: any result is fine, a panic is not.
#[test]
fn damaged_copies_never_panic() {
    let original = full_photo();
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

/// Bytes of the EXIF block changed at random, the JPEG's structure and pixels left alone: the
/// photo is always accepted, whatever became of its metadata.
#[test]
fn damage_inside_the_exif_block_never_costs_the_photo() {
    let original = full_photo();
    // SOI, then the EXIF segment: marker, length, "Exif\0\0", the block.
    assert_eq!(original[2..4], [0xFF, 0xE1]);
    let block = 10..4 + usize::from(u16::from_be_bytes([original[4], original[5]]));
    let dir = tempfile::tempdir().unwrap();
    let mut rng = XorShift(0xD1B5_4A32_D192_ED03);
    let mut unreadable = 0;
    for round in 0..150 {
        let mut bytes = original.clone();
        for _ in 0..1 + rng.below(6) {
            let at = block.start + rng.below(block.len());
            bytes[at] = rng.byte();
        }
        let path = write_temp(&dir, "damaged.jpg", &bytes);
        let p = process(
            &path,
            &dir.path().join("o"),
            &dir.path().join("t"),
            &Limits::default(),
        )
        .unwrap_or_else(|e| panic!("round {round}: {e:?}"));
        if p.metadata == PhotoMetadata::Unreadable {
            unreadable += 1;
            assert_eq!((p.orientation, p.gps, p.taken_at), (1, None, None));
        }
        assert_eq!(decoded_size(&dir.path().join("o")), (200, 133));
    }
    assert!(
        unreadable > 10,
        "only {unreadable} of 150 damaged blocks were unreadable"
    );
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
