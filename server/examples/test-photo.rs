//! Writes a phone photo built by `fieldsync_server::testing::photo` (no file from outside the
//! repository), for scripts that need one: the simulator's camera in `mobile-contract/fuzz-api`
//! and `ops/load/run.py`.
//!
//!     cargo run -q -p fieldsync-server --example test-photo -- OUT.jpg
//!
//! The photo is 200 × 133 pixels with the EXIF of a phone in a Yinchuan village (GPS, time,
//! camera), as the simulator's phones would take it.

use std::path::PathBuf;
use std::process::ExitCode;

use fieldsync_server::testing::photo::TestPhoto;

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: test-photo OUT.jpg");
        return ExitCode::from(2);
    };
    let written = TestPhoto::new(200, 133)
        .gps(38.4680, 106.2719)
        .taken_at("2026:05:14 09:30:05", Some("+08:00"))
        .camera("HUAWEI", "nova 11")
        .write_jpeg(&out);
    match written {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}
