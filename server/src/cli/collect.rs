//! `admin collect-link`: a key for one ODK Collect phone (`service::collect`), shown as the
//! phone's full server URL and as Collect's settings QR code, the way Central's QR panel
//! shows an app user's: the JSON settings, zlib-compressed, in standard Base64, as a QR code
//! that Collect's "Configure via QR code" reads.
//!
//! The key is shown this once, on standard output (and in the PNG with `--qr`, written
//! readable by its owner only); it never reaches a log: only its hash is stored, and the
//! device it stands for (`admin devices`, `admin revoke-device`) carries no part of it.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::write::ZlibEncoder;
use qrcode::{Color, EcLevel, QrCode};
use uuid::Uuid;

use crate::clock;
use crate::service::collect;
use crate::store::{Store, UserRow};

/// The address phones reach the server at, as `scheme://host[:port]` (`--url`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Server(String);

impl Server {
    /// The phone's OpenRosa server URL for a key.
    fn url(&self, key: &str) -> String {
        format!("{}{}", self.0, collect::base_path(key))
    }
}

/// Parses `--url`: http:// or https://, a host (a name, an IPv4 address or a bracketed IPv6
/// one) and an optional port; one trailing slash is tolerated. A path is refused: the server
/// answers OpenRosa at the root of its address, and writes its links from there.
pub(super) fn server_arg(text: &str) -> Result<Server, String> {
    let text = text.trim();
    let (scheme, rest) = text.split_once("://").ok_or_else(|| {
        format!("{text:?} is not a URL; give the address phones reach the server at, like https://fieldsync.example.org or http://192.168.1.10:8080")
    })?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "{text:?}: the URL must start with http:// or https://"
        ));
    }
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#']) {
        return Err(format!(
            "{text:?}: give the server's address only (scheme, host and port), without a path: the server answers ODK Collect at /openrosa/key/… below it"
        ));
    }
    if authority.contains('@') {
        return Err(format!(
            "{text:?}: no user name or password in the URL; the key is the phone's credential"
        ));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inside, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("{text:?}: an IPv6 address needs its closing ']'"))?;
        if inside.is_empty()
            || !inside
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b":.".contains(&b))
        {
            return Err(format!("{text:?}: [{inside}] is not an IPv6 address"));
        }
        match after {
            "" => (&authority[..inside.len() + 2], None),
            _ => match after.strip_prefix(':') {
                Some(port) => (&authority[..inside.len() + 2], Some(port)),
                None => {
                    return Err(format!(
                        "{text:?}: unexpected {after:?} after the IPv6 address"
                    ));
                }
            },
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{text:?}: the URL has no host"));
    }
    if !host.starts_with('[')
        && (host.split('.').any(str::is_empty)
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b)))
    {
        return Err(format!(
            "{text:?}: {host:?} is not a host name or address (letters, digits, '-' and '.'; a name in another script in its xn-- form)"
        ));
    }
    if let Some(port) = port
        && (port.is_empty()
            || !port.bytes().all(|b| b.is_ascii_digit())
            || !port.parse::<u16>().is_ok_and(|p| p > 0))
    {
        return Err(format!("{text:?}: {port:?} is not a port (1 to 65535)"));
    }
    Ok(Server(format!("{scheme}://{authority}")))
}

/// What `admin collect-link` was given.
pub(super) struct Request<'a> {
    pub username: &'a str,
    pub server: &'a Server,
    /// Also write the QR code as a PNG here.
    pub qr_png: Option<&'a Path>,
}

/// Issues a key for `username` and writes to `out` its server URL, the device it is bound to
/// and Collect's settings QR code (`color`: in a terminal's own colours, dark on light,
/// whatever its theme). Returns the device's id.
pub(super) async fn collect_link(
    store: &Store,
    request: &Request<'_>,
    out: &mut impl Write,
    color: bool,
) -> anyhow::Result<Uuid> {
    let name = request.username;
    let user = store
        .user_by_username(name)
        .await?
        .with_context(|| format!("no user named {name:?} (`fieldsync admin users` lists them)"))?;
    if user.disabled_at.is_some() {
        bail!("{name} is disabled; enable the account first (fieldsync admin enable-user {name})");
    }
    // The PNG goes into a private temporary file beside its place, made before the key is
    // issued (an unwritable place issues nothing) and renamed once complete.
    let png = request.qr_png.map(PendingPng::new).transpose()?;
    let issued = collect::issue(store, &user, clock::now_ms()).await?;
    let device = issued.device.device_id;
    let url = request.server.url(&issued.key);
    let code = settings_qr(&url)?;

    writeln!(out, "{}", heading(&user))?;
    writeln!(out, "  server URL  {url}")?;
    writeln!(out, "  device      {device}")?;
    writeln!(
        out,
        "The key in the URL is shown this once. `fieldsync admin revoke-device {device}` ends it (so does disabling {name})."
    )?;
    writeln!(
        out,
        "In ODK Collect: Add project → Configure with QR code, and scan (or Manually → the URL above):"
    )?;
    out.write_all(terminal(&code, color).as_bytes())?;
    if let (Some(png), Some(path)) = (png, request.qr_png) {
        png.finish(&code).with_context(|| {
            format!(
                "the link above works, but {} was not written",
                path.display()
            )
        })?;
        writeln!(
            out,
            "QR code written to {} (readable by its owner only: it holds the key)",
            path.display()
        )?;
    }
    if let Some(host) = loopback(request.server) {
        writeln!(
            out,
            "warning: {host} is this machine itself; a phone cannot reach the server there. Use the address phones reach it at"
        )?;
    }
    out.flush()?;
    Ok(device)
}

/// The command as run: the output on standard output, in colour in a terminal.
pub(super) async fn run(store: &Store, request: &Request<'_>) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout();
    let color = stdout.is_terminal();
    collect_link(store, request, &mut stdout, color).await?;
    Ok(())
}

fn heading(user: &UserRow) -> String {
    let role = user.role.as_str();
    match &user.display_name {
        Some(display) => format!(
            "ODK Collect link for {} ({display}, {role}):",
            user.username
        ),
        None => format!("ODK Collect link for {} ({role}):", user.username),
    }
}

fn loopback(server: &Server) -> Option<&str> {
    let authority = server.0.split_once("://").map_or("", |(_, a)| a);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    let is_loopback = host.eq_ignore_ascii_case("localhost")
        || host.starts_with("127.")
        || host == "::1"
        || host == "0.0.0.0";
    is_loopback.then_some(host)
}

/// Collect's settings for a server: its URL, forms kept exactly as the server serves them,
/// and finished forms sent on any network. Unnamed settings keep Collect's defaults.
fn settings_json(server_url: &str) -> String {
    serde_json::json!({
        "general": {
            "server_url": server_url,
            "form_update_mode": "match_exactly",
            "autosend": "wifi_and_cellular",
        },
        "admin": {},
    })
    .to_string()
}

/// What the QR code carries: the settings JSON, zlib-compressed (deflate with the zlib
/// header), in standard Base64 with padding.
fn settings_payload(server_url: &str) -> anyhow::Result<String> {
    let mut zlib = ZlibEncoder::new(Vec::new(), Compression::best());
    zlib.write_all(settings_json(server_url).as_bytes())?;
    Ok(STANDARD.encode(zlib.finish()?))
}

/// The settings QR code, at the lowest error correction (as Central's): the smallest code,
/// with the largest modules, for a screen or a print that is not damaged.
fn settings_qr(server_url: &str) -> anyhow::Result<QrCode> {
    let payload = settings_payload(server_url)?;
    QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::L)
        .map_err(|e| anyhow::anyhow!("the settings do not fit in a QR code: {e}"))
}

/// Light modules around the code, as the standard asks of a reader.
const QUIET_ZONE: usize = 4;

/// Whether the module at (x, y) of the code with its quiet zone is dark.
fn dark(code: &QrCode, colors: &[Color], x: usize, y: usize) -> bool {
    let w = code.width();
    let inside = |v: usize| (QUIET_ZONE..QUIET_ZONE + w).contains(&v);
    inside(x) && inside(y) && colors[(y - QUIET_ZONE) * w + x - QUIET_ZONE] == Color::Dark
}

/// The code in Unicode half blocks, two module rows a line, dark modules drawn (the
/// foreground) on light (the background), the quiet zone included. With `color`, each line
/// sets black on white itself (256-colour codes 16 and 231, which themes leave alone), so the
/// code reads dark on light in a dark terminal too; without, the page's own colours are taken
/// to be dark on light.
fn terminal(code: &QrCode, color: bool) -> String {
    let colors = code.to_colors();
    let side = code.width() + 2 * QUIET_ZONE;
    let mut text = String::new();
    for y in (0..side).step_by(2) {
        if color {
            text.push_str("\x1b[38;5;16;48;5;231m");
        }
        for x in 0..side {
            let top = dark(code, &colors, x, y);
            let bottom = y + 1 < side && dark(code, &colors, x, y + 1);
            text.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        if color {
            text.push_str("\x1b[0m");
        }
        text.push('\n');
    }
    text
}

/// Pixels a module in the PNG: a version 10 code is 520 pixels wide.
const PNG_MODULE_PX: usize = 8;

/// The code as a black-and-white image, quiet zone included.
fn image(code: &QrCode) -> image::GrayImage {
    let colors = code.to_colors();
    let side = (code.width() + 2 * QUIET_ZONE) * PNG_MODULE_PX;
    let side = u32::try_from(side).unwrap_or(u32::MAX);
    image::GrayImage::from_fn(side, side, |x, y| {
        let module = |v: u32| v as usize / PNG_MODULE_PX;
        let dark = dark(code, &colors, module(x), module(y));
        image::Luma([if dark { 0 } else { 255 }])
    })
}

/// A PNG on its way to `path`: a temporary file beside it, private to its owner.
struct PendingPng {
    file: tempfile::NamedTempFile,
    path: PathBuf,
}

impl PendingPng {
    fn new(path: &Path) -> anyhow::Result<Self> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        // Made with mode 0600 on Unix (tempfile's default); the rename keeps it.
        let file = tempfile::Builder::new()
            .prefix(".collect-link-")
            .suffix(".png")
            .tempfile_in(dir)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(PendingPng {
            file,
            path: path.to_owned(),
        })
    }

    fn finish(self, code: &QrCode) -> anyhow::Result<()> {
        use image::ImageEncoder;
        let img = image(code);
        let mut writer = std::io::BufWriter::new(self.file.as_file());
        image::codecs::png::PngEncoder::new(&mut writer).write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::L8,
        )?;
        writer.flush()?;
        drop(writer);
        self.file
            .persist(&self.path)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use fieldsync_protocol::Role;
    use qrcode::Version;

    use super::*;
    use crate::config::Settings;
    use crate::store::NewUser;

    fn server(text: &str) -> Server {
        server_arg(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn the_url_is_a_scheme_a_host_and_a_port() {
        assert_eq!(server("https://fs.example.org").0, "https://fs.example.org");
        assert_eq!(
            server("https://fs.example.org/").0,
            "https://fs.example.org"
        );
        assert_eq!(
            server(" HTTP://192.168.1.10:8080/ ").0,
            "http://192.168.1.10:8080"
        );
        assert_eq!(server("http://[fd00::1]:8080").0, "http://[fd00::1]:8080");
        assert_eq!(server("http://[fd00::1]").0, "http://[fd00::1]");
        for (bad, says) in [
            ("fs.example.org", "not a URL"),
            ("ftp://fs.example.org", "http:// or https://"),
            ("https://", "no host"),
            ("https:///x", "without a path"),
            ("https://fs.example.org/fieldsync", "without a path"),
            ("https://fs.example.org?x=1", "without a path"),
            ("https://ma:pw@fs.example.org", "no user name"),
            ("https://fs.example.org:", "not a port"),
            ("https://fs.example.org:0", "not a port"),
            ("https://fs.example.org:65536", "not a port"),
            ("https://fs.example.org:80x", "not a port"),
            ("https://fs..example.org", "not a host"),
            ("https://fs_example.org", "not a host"),
            ("https://fd00::1", "not a port"),
            ("https://[fd00::1", "closing ']'"),
            ("https://[fd00::1]x", "after the IPv6"),
        ] {
            let err = server_arg(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
        assert_eq!(
            loopback(&server("http://localhost:8080")),
            Some("localhost")
        );
        assert_eq!(loopback(&server("http://127.0.0.1")), Some("127.0.0.1"));
        assert_eq!(loopback(&server("http://[::1]:8080")), Some("::1"));
        assert_eq!(loopback(&server("http://192.168.1.10:8080")), None);
    }

    const URL: &str = "https://fieldsync.example.org:8443/openrosa/key/Vq3nJ0m2c8xk5Yb7Rz1tWuA9sEoLh4gPdCiKfMjNbQ0";

    /// Base64 → zlib → JSON, as Collect reads it.
    fn decode(payload: &str) -> serde_json::Value {
        let zlib = STANDARD.decode(payload).expect("standard Base64");
        assert_eq!(zlib[0] & 0x0f, 8, "zlib header: deflate");
        assert_eq!(
            u16::from_be_bytes([zlib[0], zlib[1]]) % 31,
            0,
            "zlib header check"
        );
        let mut json = String::new();
        flate2::read::ZlibDecoder::new(&zlib[..])
            .read_to_string(&mut json)
            .expect("a zlib stream (its Adler-32 checked)");
        serde_json::from_str(&json).expect("JSON")
    }

    #[test]
    fn the_settings_payload_decodes_to_the_server_and_the_two_settings() {
        let payload = settings_payload(URL).unwrap();
        assert!(payload.len().is_multiple_of(4), "padded: {payload}");
        let settings = decode(&payload);
        assert_eq!(
            settings,
            serde_json::json!({
                "general": {
                    "server_url": URL,
                    "form_update_mode": "match_exactly",
                    "autosend": "wifi_and_cellular",
                },
                "admin": {},
            })
        );
        assert_eq!(settings["general"]["server_url"], URL);
        // Compressed, not merely wrapped: the JSON's repeated words shrink.
        assert!(
            STANDARD.decode(&payload).unwrap().len() < settings_json(URL).len(),
            "{payload}"
        );
    }

    /// The modules a terminal rendering shows, quiet zone included, read back from its
    /// half blocks (the colour codes taken off).
    fn read_terminal(text: &str, side: usize) -> Vec<Vec<bool>> {
        let mut rows: Vec<Vec<bool>> = Vec::new();
        for line in text.lines() {
            let line = line
                .strip_prefix("\x1b[38;5;16;48;5;231m")
                .and_then(|l| l.strip_suffix("\x1b[0m"))
                .unwrap_or(line);
            let cells: Vec<(bool, bool)> = line
                .chars()
                .map(|c| match c {
                    '█' => (true, true),
                    '▀' => (true, false),
                    '▄' => (false, true),
                    ' ' => (false, false),
                    other => panic!("{other:?} in the QR code's line {line:?}"),
                })
                .collect();
            assert_eq!(cells.len(), side, "{line:?}");
            rows.push(cells.iter().map(|c| c.0).collect());
            rows.push(cells.iter().map(|c| c.1).collect());
        }
        // An odd side: the last line's lower half is the background.
        assert_eq!(rows.len(), side + 1);
        assert!(rows.pop().unwrap().iter().all(|d| !d));
        rows
    }

    #[test]
    fn the_qr_code_shows_the_payload_in_the_terminal_and_the_png() {
        let code = settings_qr(URL).unwrap();
        // Payload, compressed, in standard Base64: byte mode.
        let payload = settings_payload(URL).unwrap();
        let again = QrCode::with_error_correction_level(&payload, EcLevel::L).unwrap();
        assert_eq!(code.to_colors(), again.to_colors());
        let Version::Normal(version) = code.version() else {
            panic!("a micro QR code: {:?}", code.version());
        };
        assert!(
            (8..=11).contains(&version),
            "version {version} for {} bytes",
            payload.len()
        );
        assert_eq!(code.width(), 17 + 4 * usize::try_from(version).unwrap());
        assert_eq!(code.error_correction_level(), EcLevel::L);

        let side = code.width() + 2 * QUIET_ZONE;
        let colors = code.to_colors();
        let expected: Vec<Vec<bool>> = (0..side)
            .map(|y| (0..side).map(|x| dark(&code, &colors, x, y)).collect())
            .collect();
        // The quiet zone is light, and a finder pattern's corner dark just inside it.
        let quiet = |v: usize| v < QUIET_ZONE || v >= side - QUIET_ZONE;
        for (y, row) in expected.iter().enumerate() {
            for (x, &dark) in row.iter().enumerate() {
                assert!(!(dark && (quiet(x) || quiet(y))), "quiet zone ({x}, {y})");
            }
        }
        assert!(expected[QUIET_ZONE][QUIET_ZONE] && expected[side - 1 - QUIET_ZONE][QUIET_ZONE]);

        for color in [false, true] {
            let text = terminal(&code, color);
            assert_eq!(text.lines().count(), side.div_ceil(2));
            assert_eq!(read_terminal(&text, side), expected, "color {color}");
        }

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("link.png");
        PendingPng::new(&path).unwrap().finish(&code).unwrap();
        let png = image::open(&path).unwrap();
        let px = u32::try_from(side * PNG_MODULE_PX).unwrap();
        assert_eq!((png.width(), png.height()), (px, px));
        let gray = png.to_luma8();
        assert!(
            gray.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255),
            "black and white only"
        );
        for (y, row) in expected.iter().enumerate() {
            for (x, &dark) in row.iter().enumerate() {
                let at = |m: usize| u32::try_from(m * PNG_MODULE_PX + PNG_MODULE_PX / 2).unwrap();
                assert_eq!(
                    gray.get_pixel(at(x), at(y)).0[0] == 0,
                    dark,
                    "module ({x}, {y})"
                );
            }
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the PNG holds the key");
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    async fn user(store: &Store, username: &str, role: Role) {
        let new = NewUser {
            id: Uuid::now_v7(),
            username: username.to_owned(),
            password_hash: "unused".to_owned(),
            role,
            display_name: None,
        };
        store
            .create_user(&new, &[], &clock::iso(clock::today()), clock::now_ms())
            .await
            .unwrap();
    }

    /// The command against a new data directory: the link it prints signs the user in until
    /// the device is revoked; a disabled or unknown user is refused and nothing is issued.
    #[tokio::test]
    async fn a_link_signs_its_user_in_until_its_device_is_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            data_dir: dir.path().to_owned(),
            ..Settings::default()
        };
        let store = crate::app::open_store(&settings).await.unwrap();
        user(&store, "ma", Role::GridWorker).await;
        user(&store, "gone", Role::GridWorker).await;
        store
            .set_user_disabled("gone", true, clock::now_ms())
            .await
            .unwrap();
        user(&store, "hotline", Role::HotlineOperator).await;
        let base = server("http://192.168.1.10:8080/");
        let png = dir.path().join("ma.png");
        let request = Request {
            username: "ma",
            server: &base,
            qr_png: Some(&png),
        };

        let mut out = Vec::new();
        let device = collect_link(&store, &request, &mut out, false)
            .await
            .unwrap();
        let out = String::from_utf8(out).unwrap();
        let url = out
            .lines()
            .find_map(|l| l.strip_prefix("  server URL  "))
            .unwrap_or_else(|| panic!("no server URL: {out}"));
        let key = url
            .strip_prefix("http://192.168.1.10:8080/openrosa/key/")
            .unwrap_or_else(|| panic!("{url}"));
        assert_eq!(key.len(), 43, "{key}");
        assert!(out.contains(&format!("  device      {device}\n")), "{out}");
        assert!(
            out.contains(&format!("fieldsync admin revoke-device {device}")),
            "{out}"
        );
        assert!(
            out.contains(&format!("QR code written to {}", png.display())),
            "{out}"
        );
        assert!(!out.contains('\x1b'), "no colour codes outside a terminal");
        assert!(image::open(&png).is_ok());

        let caller = collect::caller(&store, key)
            .await
            .expect("the key signs in");
        let ma = store.user_by_username("ma").await.unwrap().unwrap();
        assert_eq!((caller.user_id, caller.device_id), (ma.id, device));
        // The key is nowhere in the audit log.
        let audit = store
            .audit(&crate::store::AuditFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(audit.is_empty(), "{audit:?}");

        super::super::devices::revoke_device(&store, device, true)
            .await
            .unwrap();
        assert!(collect::caller(&store, key).await.is_err(), "revoked");

        let devices = store.devices(None).await.unwrap().len();
        for (username, says) in [
            ("gone", "gone is disabled; enable the account first"),
            ("nobody", "no user named \"nobody\""),
            ("hotline", "fills no forms"),
        ] {
            let png = dir.path().join(format!("{username}.png"));
            let request = Request {
                username,
                server: &base,
                qr_png: Some(&png),
            };
            let mut out = Vec::new();
            let err = collect_link(&store, &request, &mut out, false)
                .await
                .expect_err(username);
            assert!(err.to_string().contains(says), "{username}: {err:#}");
            assert!(out.is_empty(), "{username}: nothing printed");
            assert!(!png.exists(), "{username}: no PNG");
        }
        assert_eq!(
            store.devices(None).await.unwrap().len(),
            devices,
            "no device issued"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".collect-link-")
            })
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        store.close().await;
    }
}
