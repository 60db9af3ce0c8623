//! `fieldsync-sim`: the field simulator against a running server.
//!
//! ```text
//! fieldsync-sim --server http://127.0.0.1:8080 --phones phones.csv [--edits 5000] [--rounds 20]
//!               [--households 30] [--seed 7] [--dir /tmp/sim] [--photo FILE.jpg]
//! ```
//! `phones.csv` has the header `username,password,village,reviewer` (reviewer: `true` for a
//! first secretary whose account reads the village's conflicts; one per village). Exits 1 when
//! a phone did not converge or an edit was lost, 2 on bad arguments.

use std::path::PathBuf;
use std::process::ExitCode;

use fieldsync_client::sim::{PhoneSpec, SimConfig, run};

const USAGE: &str = "usage: fieldsync-sim --server URL --phones FILE.csv [--edits N] [--rounds N] [--households N] [--seed N] [--dir DIR] [--photo FILE.jpg]";

fn config() -> Result<SimConfig, String> {
    let mut args = std::env::args().skip(1);
    let mut server = None;
    let mut phones_file = None;
    let mut cfg = SimConfig::field(
        "",
        Vec::new(),
        std::env::temp_dir().join(format!("fieldsync-sim-{}", std::process::id())),
    );
    while let Some(a) = args.next() {
        let value = args.next().ok_or_else(|| USAGE.to_owned())?;
        let number = || value.parse::<usize>().map_err(|_| USAGE.to_owned());
        match a.as_str() {
            "--server" => server = Some(value.clone()),
            "--phones" => phones_file = Some(PathBuf::from(&value)),
            "--edits" => cfg.edits = number()?,
            "--rounds" => cfg.rounds = number()?,
            "--households" => cfg.households_per_village = number()?,
            "--seed" => cfg.seed = number()? as u64,
            "--dir" => cfg.dir = PathBuf::from(&value),
            "--photo" => cfg.photo = Some(PathBuf::from(&value)),
            _ => return Err(USAGE.to_owned()),
        }
    }
    let (Some(server), Some(file)) = (server, phones_file) else {
        return Err(USAGE.to_owned());
    };
    cfg.base_url = server;
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    for (n, line) in text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        let [username, password, village, reviewer] = cols.as_slice() else {
            return Err(format!(
                "{}:{}: want username,password,village,reviewer",
                file.display(),
                n + 1
            ));
        };
        cfg.phones.push(PhoneSpec {
            username: (*username).to_owned(),
            password: (*password).to_owned(),
            village: (*village).to_owned(),
            reviewer: *reviewer == "true",
        });
    }
    std::fs::create_dir_all(&cfg.dir).map_err(|e| format!("{}: {e}", cfg.dir.display()))?;
    Ok(cfg)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cfg = match config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&cfg).await {
        Ok(summary) => {
            println!("{summary}");
            if summary.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("simulation failed: {e}");
            ExitCode::from(1)
        }
    }
}
